import { providerDescriptionSchema, type ProviderDescription, type ProviderDescriptionInput } from '../config/provider-description.js';

// The built-in providers that fit a description, written as a config's `providers:` entry would
// be (like Nango's providers.yaml), from ../shared/providers/CONTRACTS.md. They run through the
// same code as described providers (described.ts). What no description expresses stays code:
// Light's static API key (light.ts) and generic oauth2's client authentication (oauth2.ts).

const CAMEL_CASE = { accessToken: 'accessToken', expiresIn: 'expiresIn', refreshToken: 'refreshToken' } as const;
const CLIENT_FORM = { client_id: '{clientId}', client_secret: '{clientSecret}' } as const;
/** RFC 6749 §6 with the client in the body, as Petje.af and Light take it. */
const FORM_REFRESH = { fields: { grant_type: 'refresh_token', refresh_token: '{refreshToken}', ...CLIENT_FORM } } as const;

const CATALOG_INPUT = {
  // JSON client credentials (a companyId yields another token); refresh on a sibling path; falls back to client credentials.
  covver: {
    tokenUrl: 'https://api.covver.io/api/ext/v1/oauth/tokens',
    encoding: 'json',
    grant: { fields: { grantType: 'clientCredentials', clientId: '{clientId}', clientSecret: '{clientSecret}', companyId: '{companyId?}' } },
    refresh: { url: 'refresh-token', fields: { grantType: 'refreshToken', refreshToken: '{refreshToken}' }, fallBackToGrant: true },
    response: CAMEL_CASE,
    errorFields: ['errorCode', 'error'],
  },
  // Partners API: JSON client credentials, no refresh token: re-authenticate each time.
  cobee: {
    tokenUrl: 'https://partners-api.cobee.io/api/v3/oauth/token',
    encoding: 'json',
    grant: { fields: { clientId: '{clientId}', clientSecret: '{clientSecret}' } },
    response: CAMEL_CASE,
    errorFields: ['code', 'message'],
  },
  // Form-encoded; an authorization_code bootstrap, then refresh_token grants. Errors: RFC 6749 `{error}` or a problem document `{title}`.
  petje: {
    tokenUrl: 'https://api.petje.af/v1/oauth2/tokens',
    encoding: 'form',
    refresh: FORM_REFRESH,
    authorizationCode: { fields: { grant_type: 'authorization_code', code: '{code}', ...CLIENT_FORM, redirect_uri: '{redirectUri?}' } },
    errorFields: ['error', 'title'],
  },
  // Form-encoded authorization_code (with the consent's redirect_uri) + rotating refresh tokens; the API-key mode is in light.ts.
  light: {
    tokenUrl: 'https://api.light.inc/oauth/token',
    encoding: 'form',
    refresh: FORM_REFRESH,
    authorizationCode: { fields: { grant_type: 'authorization_code', code: '{code}', ...CLIENT_FORM, redirect_uri: '{redirectUri}' } },
    errorFields: ['error'],
  },
} as const satisfies Record<string, ProviderDescriptionInput>;

export type CatalogName = keyof typeof CATALOG_INPUT;

/** The catalog through the same schema as a config's descriptions: defaults filled, mistakes caught at load. */
export const CATALOG = Object.fromEntries(
  Object.entries(CATALOG_INPUT).map(([name, input]) => [name, providerDescriptionSchema.parse(input)]),
) as Record<CatalogName, ProviderDescription>;
