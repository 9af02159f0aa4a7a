import { z } from 'zod';
import { clientPair, credentialField, field, firstStringField, readTokenSet, SNAKE_CASE } from './guards.js';
import { formGrants } from './form-oauth.js';
import type { ProviderDialect } from './types.js';

/** Any RFC 6749 server: form-encoded client_credentials (with optional scope/audience). `tokenUrl` is required. */
export const oauth2: ProviderDialect = {
  name: 'oauth2',
  credentials: z.strictObject({ ...clientPair, scope: credentialField.optional, audience: credentialField.optional }),
  defaultTokenUrl: undefined,
  tokenShapingFields: ['scope', 'audience'],
  initialGrant: (credentials, urls) => ({
    grant: 'client_credentials',
    url: urls.tokenUrl,
    encoding: 'form',
    fields: {
      grant_type: 'client_credentials',
      client_id: field(credentials, 'clientId'),
      client_secret: field(credentials, 'clientSecret'),
      ...(credentials.scope === undefined ? {} : { scope: credentials.scope }),
      ...(credentials.audience === undefined ? {} : { audience: credentials.audience }),
    },
  }),
  refreshGrant: formGrants.refreshGrant,
  refreshUrl: formGrants.refreshUrl,
  fallBackToInitialGrant: true,
  refreshTokenField: SNAKE_CASE.refresh,
  parseToken: (body) => readTokenSet(body, SNAKE_CASE),
  errorCode: (body) => firstStringField(body, ['error']),
};
