import { z } from 'zod';
import { CAMEL_CASE, clientPair, field, knownErrorCode, OAUTH_ERROR_CODES, readTokenSet } from './guards.js';
import type { ProviderDialect } from './types.js';

/** Cobee Partners API: JSON client credentials, no refresh token: re-authenticate each time. */
export const cobee: ProviderDialect = {
  name: 'cobee',
  credentials: z.strictObject(clientPair),
  defaultTokenUrl: 'https://partners-api.cobee.io/api/v3/oauth/token',
  refreshUrl: (tokenUrl) => tokenUrl,
  tokenShapingFields: [],
  initialGrant: (credentials, urls) => ({
    grant: 'client_credentials',
    url: urls.tokenUrl,
    encoding: 'json',
    fields: { clientId: field(credentials, 'clientId'), clientSecret: field(credentials, 'clientSecret') },
  }),
  fallBackToInitialGrant: false,
  refreshTokenField: undefined,
  parseToken: (body) => readTokenSet(body, CAMEL_CASE),
  // Cobee documents 400 `{code: validation_error}`; its 401 carries only a message.
  errorCode: (body) => knownErrorCode(body, ['code', 'error'], [...OAUTH_ERROR_CODES, 'validation_error']),
};
