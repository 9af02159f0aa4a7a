import { z } from 'zod';
import { CAMEL_CASE, clientPair, credentialField, field, knownErrorCode, OAUTH_ERROR_CODES, readTokenSet } from './guards.js';
import type { ProviderDialect } from './types.js';

/** Covver: JSON client credentials; refresh on a sibling path; falls back to client credentials. */
export const covver: ProviderDialect = {
  name: 'covver',
  credentials: z.strictObject({ ...clientPair, companyId: credentialField.optional }),
  defaultTokenUrl: 'https://api.covver.io/api/ext/v1/oauth/tokens',
  refreshUrl: (tokenUrl) => tokenUrl.replace(/\/oauth\/tokens\/?$/, '/oauth/refresh-token'),
  tokenShapingFields: ['companyId'],
  initialGrant: (credentials, urls) => ({
    grant: 'client_credentials',
    url: urls.tokenUrl,
    encoding: 'json',
    fields: {
      grantType: 'clientCredentials',
      clientId: field(credentials, 'clientId'),
      clientSecret: field(credentials, 'clientSecret'),
      ...(credentials.companyId === undefined ? {} : { companyId: credentials.companyId }),
    },
  }),
  refreshGrant: (_credentials, refreshToken, urls) => ({
    grant: 'refresh_token',
    url: urls.refreshUrl,
    encoding: 'json',
    fields: { grantType: 'refreshToken', refreshToken },
  }),
  fallBackToInitialGrant: true,
  refreshTokenField: CAMEL_CASE.refresh,
  parseToken: (body) => readTokenSet(body, CAMEL_CASE),
  // Covver documents `errorCode` as a string without listing values: these are the ones it is known to send.
  errorCode: (body) => knownErrorCode(body, ['errorCode'], [...OAUTH_ERROR_CODES, 'INVALID_CLIENT_CREDENTIALS', 'INVALID_REFRESH_TOKEN', 'VALIDATION_ERROR']),
};
