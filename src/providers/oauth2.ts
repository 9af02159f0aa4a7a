import { clientAuthentication, type ClientAuthMethod } from './client-auth.js';
import { field, knownErrorCode, OAUTH_ERROR_CODES, readTokenSet, SNAKE_CASE } from './guards.js';
import { oauth2Credentials } from './oauth2-credentials.js';
import type { CredentialValues, ProviderDialect, RouteOptions, TokenHttpRequest, TokenUrls } from './types.js';

/** RFC 6749 §5.2, and RFC 8707 §2's `invalid_target` for a `resource` the server refuses. */
const OAUTH2_ERROR_CODES = [...OAUTH_ERROR_CODES, 'invalid_target'];

/** Space-separated lists (config lists are joined so: scope tokens and URIs hold no spaces). */
const list = (value: string | undefined) => (value === undefined ? [] : value.split(' ').filter((item) => item.length > 0));

/**
 * A route that started from a user's consent: it refreshes that grant and never falls back to
 * client_credentials, which would silently swap the user's identity for the client's.
 */
export function isConsentRoute(credentials: CredentialValues, options: RouteOptions): boolean {
  return credentials.refreshToken !== undefined || credentials.redirectUri !== undefined || options.authorizeUrl !== undefined;
}

/**
 * Generic RFC 6749 server, bound to a route's `clientAuth`, `tokenParams` and `authorizeUrl`:
 * client_credentials, refresh_token and authorization_code grants, each authenticated by the
 * route's method, with `scope`, RFC 8707 `resource` (repeated) and `audience` in the form body.
 */
export function configureOAuth2(options: RouteOptions): ProviderDialect {
  const method = (options.clientAuth ?? 'client_secret_basic') as ClientAuthMethod;
  const tokenParams = options.tokenParams ?? {};

  function tokenRequest(grant: TokenHttpRequest['grant'], credentials: CredentialValues, url: string, grantFields: Record<string, string>): TokenHttpRequest {
    const auth = clientAuthentication(method, credentials, url);
    const resources = list(credentials.resource);
    return {
      grant,
      url,
      encoding: 'form',
      fields: {
        ...tokenParams,
        ...grantFields,
        ...(credentials.scope === undefined ? {} : { scope: credentials.scope }),
        ...(resources.length === 0 ? {} : { resource: resources }),
        ...(credentials.audience === undefined ? {} : { audience: credentials.audience }),
        ...auth.fields,
      },
      ...(auth.headers ? { headers: auth.headers } : {}),
      ...(auth.signedFields ? { signedFields: auth.signedFields } : {}),
    };
  }

  return {
    name: 'oauth2',
    credentials: oauth2Credentials(method),
    defaultTokenUrl: undefined,
    tokenShapingFields: ['scope', 'resource', 'audience'],
    tokenParams,
    configure: configureOAuth2,
    initialGrant: (credentials, urls) =>
      isConsentRoute(credentials, options) ? undefined : tokenRequest('client_credentials', credentials, urls.tokenUrl, { grant_type: 'client_credentials' }),
    refreshGrant: (credentials, refreshToken, urls) => tokenRequest('refresh_token', credentials, urls.refreshUrl, { grant_type: 'refresh_token', refresh_token: refreshToken }),
    authorizationCodeGrant: (credentials, code, urls: TokenUrls, codeVerifier) =>
      tokenRequest('authorization_code', credentials, urls.tokenUrl, {
        grant_type: 'authorization_code',
        code,
        ...(credentials.redirectUri === undefined ? {} : { redirect_uri: credentials.redirectUri }),
        ...(codeVerifier === undefined ? {} : { code_verifier: codeVerifier }),
      }),
    authorizationUrl: (credentials, request) => {
      if (options.authorizeUrl === undefined) return undefined;
      const url = new URL(options.authorizeUrl);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', field(credentials, 'clientId'));
      if (credentials.redirectUri !== undefined) url.searchParams.set('redirect_uri', credentials.redirectUri);
      // The consent screen must show what is asked for: scope, resource (RFC 6749 §4.1.1, RFC 8707 §2) and Auth0's audience belong here; tokenParams never do.
      if (credentials.scope !== undefined) url.searchParams.set('scope', credentials.scope);
      for (const resource of list(credentials.resource)) url.searchParams.append('resource', resource);
      if (credentials.audience !== undefined) url.searchParams.set('audience', credentials.audience);
      url.searchParams.set('state', request.state);
      url.searchParams.set('code_challenge', request.codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      return url.href;
    },
    refreshUrl: (tokenUrl) => tokenUrl,
    fallBackToInitialGrant: true,
    refreshTokenField: SNAKE_CASE.refresh,
    parseToken: (body) => readTokenSet(body, SNAKE_CASE),
    errorCode: (body) => knownErrorCode(body, ['error'], OAUTH2_ERROR_CODES),
  };
}

/** The route-independent default (client_secret_basic); config/load.ts binds each route's keys. */
export const oauth2: ProviderDialect = configureOAuth2({});
