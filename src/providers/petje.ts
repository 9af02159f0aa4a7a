import { z } from 'zod';
import { clientPair, credentialField, knownErrorCode, OAUTH_ERROR_CODES, readTokenSet, SNAKE_CASE } from './guards.js';
import { formGrants } from './form-oauth.js';
import type { ProviderDialect } from './types.js';

/**
 * Petje.af: form-encoded; an authorization_code bootstrap, then refresh_token grants.
 * Errors come as RFC 6749 `{error}` or as a problem document `{status, title, detail}`.
 */
export const petje: ProviderDialect = {
  name: 'petje',
  credentials: z.strictObject({ ...clientPair, refreshToken: credentialField.optional, redirectUri: credentialField.optional }),
  defaultTokenUrl: 'https://api.petje.af/v1/oauth2/tokens',
  tokenShapingFields: [],
  initialGrant: () => undefined,
  ...formGrants,
  fallBackToInitialGrant: false,
  refreshTokenField: SNAKE_CASE.refresh,
  parseToken: (body) => readTokenSet(body, SNAKE_CASE),
  // A problem document's `title` is the status text, not a code: it becomes http_<status>.
  errorCode: (body) => knownErrorCode(body, ['error'], OAUTH_ERROR_CODES),
};
