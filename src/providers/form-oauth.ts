import { field } from './guards.js';
import type { CredentialValues, ProviderDialect, TokenUrls } from './types.js';

/** RFC 6749 form grants shared by Petje.af and Light (generic oauth2 adds client authentication: oauth2.ts). */
export const formGrants = {
  refreshGrant: (credentials: CredentialValues, refreshToken: string, urls: TokenUrls) => ({
    grant: 'refresh_token' as const,
    url: urls.refreshUrl,
    encoding: 'form' as const,
    fields: {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: field(credentials, 'clientId'),
      client_secret: field(credentials, 'clientSecret'),
    },
  }),
  authorizationCodeGrant: (credentials: CredentialValues, code: string, urls: TokenUrls) => ({
    grant: 'authorization_code' as const,
    url: urls.tokenUrl,
    encoding: 'form' as const,
    fields: {
      grant_type: 'authorization_code',
      code,
      client_id: field(credentials, 'clientId'),
      client_secret: field(credentials, 'clientSecret'),
      ...(credentials.redirectUri === undefined ? {} : { redirect_uri: credentials.redirectUri }),
    },
  }),
  refreshUrl: (tokenUrl: string) => tokenUrl,
} satisfies Partial<ProviderDialect>;
