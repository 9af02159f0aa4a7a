import { STATUS_CODES } from 'node:http';
import { placeholderOf, providerDescriptionSchema, type ProviderDescription, type ProviderDescriptionInput } from '../config/provider-description.js';
import { resolveRefreshUrl } from '../providers/described.js';
import { parseForm, parseJsonObject } from './body-parsers.js';
import { describedDemoClient } from './demo-credentials.js';
import type { Dialect, JsonAnswer, ParsedTokenRequest, TokenHttpRequest } from './dialect.js';
import type { GrantFailure, GrantRequest } from './grants.js';

// The emulator of a described provider, generated from the very description the sidecar runs:
// the same paths, encoding, field names, error fields and token header. What a description does
// not say is chosen strictly: a refresh token rotates and reusing a spent one revokes its family.

type Templates = Readonly<Record<string, string>>;

/** Where no token URL is described, the emulator serves the RFC 6749 customary path. */
const DEFAULT_TOKEN_PATH = '/oauth/token';
const ORIGIN = 'http://emulator.invalid';

/** The described grants a request can be, with the fields that tell them apart (their literals). */
interface GrantShape {
  readonly grant: GrantRequest['grant'];
  readonly path: string;
  readonly templates: Templates;
}

function errorAnswer(description: ProviderDescription, status: number, code: string, message: string): JsonAnswer {
  const codeField = description.errorFields[0] ?? 'error';
  return { status, body: { message, [codeField]: code } };
}

function readFields(request: TokenHttpRequest, description: ProviderDescription): Record<string, unknown> | JsonAnswer {
  if (request.method !== 'POST') return errorAnswer(description, 405, 'invalid_request', `the token endpoint does not accept ${request.method}`);
  if (description.encoding === 'json') {
    const parsed = parseJsonObject(request);
    return parsed.ok ? parsed.fields : errorAnswer(description, 400, 'invalid_request', `the body must be a JSON object (${parsed.reason})`);
  }
  const parsed = parseForm(request);
  return parsed.ok ? Object.fromEntries(parsed.fields) : errorAnswer(description, 400, 'invalid_request', `the body must be application/x-www-form-urlencoded (${parsed.reason})`);
}

/** Whether the literals of a grant's templates are all in the body as written. */
function literalsMatch(templates: Templates, fields: Record<string, unknown>): boolean {
  return Object.entries(templates).every(([name, template]) => placeholderOf(template) !== undefined || fields[name] === template);
}

/** The value each placeholder of the templates got, or the answer that refuses a missing one. */
function placeholders(templates: Templates, fields: Record<string, unknown>, description: ProviderDescription): Map<string, string> | JsonAnswer {
  const values = new Map<string, string>();
  for (const [name, template] of Object.entries(templates)) {
    const placeholder = placeholderOf(template);
    if (placeholder === undefined) continue;
    const value = fields[name];
    if (value === undefined && placeholder.optional) continue;
    if (typeof value !== 'string' || value === '') return errorAnswer(description, 400, 'invalid_request', `field ${name} is required and must be a non-empty string`);
    values.set(placeholder.name, value);
  }
  return values;
}

function toGrant(shape: GrantShape, values: Map<string, string>): GrantRequest {
  const clientId = values.get('clientId');
  const clientSecret = values.get('clientSecret');
  switch (shape.grant) {
    case 'client_credentials':
      return { grant: 'client_credentials', clientId: clientId ?? '', clientSecret: clientSecret ?? '' };
    case 'authorization_code':
      return { grant: 'authorization_code', code: values.get('code') ?? '', clientId: clientId ?? '', clientSecret: clientSecret ?? '' };
    case 'refresh_token':
      // The client is authenticated only when the refresh grant carries its secret (Covver's does not).
      return { grant: 'refresh_token', refreshToken: values.get('refreshToken') ?? '', ...(clientId === undefined || clientSecret === undefined ? {} : { clientId, clientSecret }) };
  }
}

/** The emulator dialect of one description; `name` is the provider name (also the tokens' issuer). */
export function describedEmulatorDialect(name: string, description: ProviderDescription): Dialect {
  const tokenUrl = description.tokenUrl ?? ORIGIN + DEFAULT_TOKEN_PATH;
  const tokenPath = new URL(tokenUrl).pathname;
  const refreshPath = new URL(resolveRefreshUrl(description.refresh?.url, tokenUrl)).pathname;
  const shapes: GrantShape[] = [
    ...(description.grant ? [{ grant: 'client_credentials' as const, path: tokenPath, templates: description.grant.fields }] : []),
    ...(description.refresh ? [{ grant: 'refresh_token' as const, path: refreshPath, templates: description.refresh.fields }] : []),
    ...(description.authorizationCode ? [{ grant: 'authorization_code' as const, path: tokenPath, templates: description.authorizationCode.fields }] : []),
  ];
  const { response } = description;

  function parse(request: TokenHttpRequest): ParsedTokenRequest {
    const fields = readFields(request, description);
    if ('status' in fields && 'body' in fields) return { ok: false, grant: 'invalid', answer: fields as JsonAnswer };
    const body = fields as Record<string, unknown>;
    const shape = shapes.find((candidate) => candidate.path === request.path && literalsMatch(candidate.templates, body));
    if (shape === undefined) return { ok: false, grant: 'invalid', answer: errorAnswer(description, 400, 'unsupported_grant_type', 'the body matches none of the described grants') };
    const values = placeholders(shape.templates, body, description);
    if (!(values instanceof Map)) return { ok: false, grant: shape.grant, answer: values };
    return { ok: true, request: toGrant(shape, values) };
  }

  const FAILURES: Record<GrantFailure, [number, string, string]> = {
    invalid_client: [401, 'invalid_client', 'client authentication failed'],
    invalid_code: [400, 'invalid_grant', 'the authorization code is invalid or was already used'],
    invalid_refresh_token: [400, 'invalid_grant', 'the refresh token is invalid, expired or revoked'],
  };

  return {
    provider: name,
    tokenPath,
    refreshPath,
    apiBase: '',
    defaultLifetimeSeconds: 3600,
    refreshPolicy: description.refresh ? 'rotate-revoke-family' : 'none',
    supportsAuthorizationCode: description.authorizationCode !== undefined,
    contentType: 'application/json; charset=utf-8',
    fields: { accessToken: response.accessToken, expiresIn: response.expiresIn },
    demoClient: describedDemoClient(name),
    apiCredential: description.send,
    parse,
    success: (tokens, omitExpiresIn) => ({
      [response.accessToken]: tokens.accessToken,
      ...(omitExpiresIn ? {} : { [response.expiresIn]: tokens.expiresIn }),
      ...(tokens.refreshToken === undefined ? {} : { [response.refreshToken]: tokens.refreshToken }),
      ...(response.tokenType === undefined ? {} : { [response.tokenType]: description.send.scheme || 'Bearer' }),
    }),
    failure: (failure) => {
      const [status, code, message] = FAILURES[failure];
      return errorAnswer(description, status, code, message);
    },
    errorBody: (status) => errorAnswer(description, status, status >= 500 ? 'server_error' : 'invalid_request', STATUS_CODES[status] ?? 'Error').body,
  };
}

/** Validates a description as the config does (so a YAML mapping can be passed as it is). */
export function parseDescription(input: ProviderDescriptionInput | ProviderDescription): ProviderDescription {
  return providerDescriptionSchema.parse(input);
}
