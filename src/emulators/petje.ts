import { STATUS_CODES } from 'node:http';
import type { Dialect, JsonAnswer } from './dialect.js';
import { oauthError, parseOAuthForm } from './oauth-form.js';

// Petje.af: form in, snake_case out. Grant failures come as a problem document
// `{status, title, detail, _links}`; request and client errors as RFC 6749 `{error, error_description}`.
const CONTENT_TYPE = 'application/json; charset=utf-8';

function problem(status: number, detail: string): JsonAnswer {
  return {
    status,
    body: {
      status,
      title: STATUS_CODES[status] ?? 'Error',
      detail,
      _links: { documentation: { href: 'https://docs.petje.af', type: 'text/html' } },
    },
  };
}

export const petje: Dialect = {
  provider: 'petje',
  tokenPath: '/v1/oauth2/tokens',
  refreshPath: '/v1/oauth2/tokens',
  apiBase: '/v1',
  defaultLifetimeSeconds: 3599,
  // Each refresh returns a new refresh token and kills the old one; no family revocation.
  refreshPolicy: 'rotate',
  supportsAuthorizationCode: true,
  contentType: CONTENT_TYPE,
  fields: { accessToken: 'access_token', expiresIn: 'expires_in' },
  parse: (request) =>
    parseOAuthForm(request, { codeParameters: ['code', 'client_id', 'client_secret'] }),
  success: (tokens, omitExpiresIn) => ({
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    ...(omitExpiresIn ? {} : { expires_in: tokens.expiresIn }),
    refresh_token: tokens.refreshToken,
    scope: 'memberships.read',
  }),
  failure: (failure) => {
    switch (failure) {
      case 'invalid_client':
        return oauthError(401, 'invalid_client', 'Client authentication failed');
      case 'invalid_code':
        return problem(400, 'Invalid grant: authorization code is invalid');
      case 'invalid_refresh_token':
        return problem(400, 'Invalid grant: refresh token is invalid');
    }
  },
  errorBody: (status) => problem(status, STATUS_CODES[status] ?? 'Error').body,
};
