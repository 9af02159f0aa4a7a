import type { Dialect } from './dialect.js';
import { oauthError, parseOAuthForm } from './oauth-form.js';

// Light: form in, snake_case out as `application/json;charset=UTF-8`. Errors are undocumented:
// RFC 6749 `{error, error_description}`. Refresh tokens rotate, and reuse revokes the family.
const CONTENT_TYPE = 'application/json;charset=UTF-8';

export const light: Dialect = {
  provider: 'light',
  tokenPath: '/oauth/token',
  refreshPath: '/oauth/token',
  apiBase: '/v1',
  defaultLifetimeSeconds: 3600,
  refreshPolicy: 'rotate-revoke-family',
  supportsAuthorizationCode: true,
  contentType: CONTENT_TYPE,
  fields: { accessToken: 'access_token', expiresIn: 'expires_in' },
  // redirect_uri must be present; codes come from issueAuthorizationCode(), so any value matches.
  parse: (request) =>
    parseOAuthForm(request, {
      codeParameters: ['code', 'redirect_uri', 'client_id', 'client_secret'],
    }),
  success: (tokens, omitExpiresIn) => ({
    access_token: tokens.accessToken,
    ...(omitExpiresIn ? {} : { expires_in: tokens.expiresIn }),
    token_type: 'Bearer',
    refresh_token: tokens.refreshToken,
  }),
  failure: (failure) => {
    switch (failure) {
      case 'invalid_client':
        return oauthError(401, 'invalid_client', 'Client authentication failed');
      case 'invalid_code':
        return oauthError(400, 'invalid_grant', 'The authorization code is invalid or was already used');
      case 'invalid_refresh_token':
        return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked');
    }
  },
  errorBody: (status) => ({
    error: status === 429 ? 'too_many_requests' : status === 503 ? 'temporarily_unavailable' : status >= 500 ? 'server_error' : 'invalid_request',
    error_description: `Emulated ${status} answer`,
  }),
};
