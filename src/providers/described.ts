import { z } from 'zod';
import { credentialFieldsOf, placeholderOf, type ProviderDescription } from '../config/provider-description.js';
import { credentialField, field, firstStringField, readTokenSet } from './guards.js';
import type { CredentialValues, Grant, ProviderDialect, TokenHttpRequest } from './types.js';

/** Credential fields that never shape the token: the client's identity is keyed on its own, and secrets are not keys. */
const NOT_SHAPING = new Set(['clientId', 'clientSecret', 'refreshToken']);

/**
 * A request's fields from a description's templates: literals as they are, `{name}` from the
 * credentials or the grant's own values (refresh token, code), `{name?}` left out when unset.
 */
function fill(templates: Readonly<Record<string, string>>, credentials: CredentialValues, own: Readonly<Record<string, string>>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, template] of Object.entries(templates)) {
    const placeholder = placeholderOf(template);
    if (placeholder === undefined) {
      fields[name] = template;
      continue;
    }
    const value = own[placeholder.name] ?? credentials[placeholder.name];
    if (value !== undefined) fields[name] = value;
    else if (!placeholder.optional) field(credentials, placeholder.name);
  }
  return fields;
}

/** Credential fields the token requests carry besides the client's identity: each yields a different token (Covver's companyId). */
function shapingFields(description: ProviderDescription): string[] {
  const templates = [...Object.values(description.grant?.fields ?? {}), ...Object.values(description.refresh?.fields ?? {})];
  const names = templates.flatMap((template) => placeholderOf(template)?.name ?? []);
  return [...new Set(names)].filter((name) => !NOT_SHAPING.has(name));
}

/** Resolves a refresh URL reference against the token URL, as a browser resolves a link. */
export function resolveRefreshUrl(reference: string | undefined, tokenUrl: string): string {
  return reference === undefined || reference === '' ? tokenUrl : new URL(reference, tokenUrl).href;
}

/**
 * The dialect a description defines: the built-ins of providers/catalog.ts and every provider
 * described under the config's `providers` run through this one function.
 */
export function describedDialect(name: string, description: ProviderDescription): ProviderDialect {
  const { required, optional } = credentialFieldsOf(description);
  const credentials = z.strictObject(Object.fromEntries([...required.map((key) => [key, credentialField.required]), ...optional.map((key) => [key, credentialField.optional])]));
  const request = (grant: Grant, url: string, templates: Readonly<Record<string, string>>, values: CredentialValues, own: Record<string, string> = {}): TokenHttpRequest => ({
    grant,
    url,
    encoding: description.encoding,
    fields: fill(templates, values, own),
  });
  const { grant, refresh, authorizationCode, response } = description;
  return {
    name,
    credentials: credentials as z.ZodType<Record<string, string | undefined>>,
    defaultTokenUrl: description.tokenUrl,
    refreshUrl: (tokenUrl) => resolveRefreshUrl(refresh?.url, tokenUrl),
    tokenShapingFields: shapingFields(description),
    initialGrant: (values, urls) => (grant === undefined ? undefined : request('client_credentials', urls.tokenUrl, grant.fields, values)),
    ...(refresh === undefined ? {} : { refreshGrant: (values: CredentialValues, refreshToken: string, urls: { refreshUrl: string }) => request('refresh_token', urls.refreshUrl, refresh.fields, values, { refreshToken }) }),
    ...(authorizationCode === undefined ? {} : { authorizationCodeGrant: (values: CredentialValues, code: string, urls: { tokenUrl: string }) => request('authorization_code', urls.tokenUrl, authorizationCode.fields, values, { code }) }),
    fallBackToInitialGrant: refresh?.fallBackToGrant ?? false,
    refreshTokenField: refresh === undefined ? undefined : response.refreshToken,
    parseToken: (body) => readTokenSet(body, { access: response.accessToken, refresh: response.refreshToken, expires: response.expiresIn, ...(response.tokenType === undefined ? {} : { type: response.tokenType }) }),
    errorCode: (body) => firstStringField(body, description.errorFields),
    sends: description.send,
  };
}
