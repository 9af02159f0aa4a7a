import { z } from 'zod';
import { CATALOG } from './catalog.js';
import { describedDialect } from './described.js';
import { credentialField } from './guards.js';
import type { ProviderDialect } from './types.js';

const described = describedDialect('light', CATALOG.light);

/**
 * Light: its catalog description (form-encoded authorization_code + rotating refresh tokens,
 * reuse revokes the family), plus what no description expresses: a static API key sent raw as
 * `Authorization: Basic <apiKey>` with no token call, instead of the client credentials.
 */
export const light: ProviderDialect = {
  ...described,
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
  staticAuthorization: (credentials) => (credentials.apiKey === undefined ? undefined : `Basic ${credentials.apiKey}`),
};
