import { z } from 'zod';
import { credentialField, field, knownErrorCode, OAUTH_ERROR_CODES, readTokenSet, SNAKE_CASE } from './guards.js';
import { formGrants } from './form-oauth.js';
import type { ProviderDialect } from './types.js';

/**
 * Light: form-encoded authorization_code + rotating refresh tokens (reuse revokes the family),
 * or a static API key sent raw as `Authorization: Basic <apiKey>` with no token call.
 */
export const light: ProviderDialect = {
  name: 'light',
  credentials: z
    .strictObject({
      apiKey: credentialField.optional,
      clientId: credentialField.optional,
      clientSecret: credentialField.optional,
      refreshToken: credentialField.optional,
      redirectUri: credentialField.optional,
    })
    .superRefine((value, ctx) => {
      const oauth = value.clientId !== undefined || value.clientSecret !== undefined || value.refreshToken !== undefined;
      if (value.apiKey !== undefined && oauth) {
        ctx.addIssue({ code: 'custom', path: ['apiKey'], message: 'use either apiKey alone or clientId/clientSecret/refreshToken, not both' });
      } else if (value.apiKey === undefined) {
        for (const key of ['clientId', 'clientSecret'] as const) {
          if (value[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is required (or set apiKey for API-key mode)' });
        }
      }
    }),
  defaultTokenUrl: 'https://api.light.inc/oauth/token',
  tokenShapingFields: [],
  staticAuthorization: (credentials) => (credentials.apiKey === undefined ? undefined : `Basic ${credentials.apiKey}`),
  initialGrant: () => undefined,
  ...formGrants,
  // Light's authorization-code exchange requires the redirect_uri of the consent flow.
  authorizationCodeGrant: (credentials, code, urls) => formGrants.authorizationCodeGrant({ ...credentials, redirectUri: field(credentials, 'redirectUri') }, code, urls),
  fallBackToInitialGrant: false,
  refreshTokenField: SNAKE_CASE.refresh,
  parseToken: (body) => readTokenSet(body, SNAKE_CASE),
  errorCode: (body) => knownErrorCode(body, ['error'], OAUTH_ERROR_CODES),
};
