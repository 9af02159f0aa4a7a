// The consent-flow client the refresh and authorize tests share: a client registered for the
// authorization code and refresh grants, and a real first refresh token obtained from the server.
import { request } from 'undici';
import type { ClientMetadata } from 'oidc-provider';
import { basicAuthorization } from '../../src/providers/client-auth.js';
import { consentRedirect } from './kit.js';
import { API_RESOURCE, type OidcServer } from './oidc-server.js';

export const APP = { id: 'consent-app', secret: 'consent-app-secret', redirectUri: 'https://app.example.test/callback' };

export const APP_CLIENT: ClientMetadata = {
  client_id: APP.id,
  client_secret: APP.secret,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [APP.redirectUri],
  scope: 'api:read',
};

/** The route credentials of the consent app (a resource-restricted `api:read` token). */
export const APP_CREDENTIALS = { clientId: APP.id, clientSecret: APP.secret, redirectUri: APP.redirectUri, scope: 'api:read', resource: API_RESOURCE };

/** A refresh token from a real consent and code exchange, done by the test itself (not the sidecar). */
export async function firstRefreshToken(server: OidcServer): Promise<string> {
  const url = new URL(server.authorizeUrl);
  for (const [name, value] of Object.entries({ response_type: 'code', client_id: APP.id, redirect_uri: APP.redirectUri, scope: 'api:read', resource: API_RESOURCE, state: 'test' })) url.searchParams.set(name, value);
  const code = (await consentRedirect(url.href, APP.redirectUri)).searchParams.get('code') ?? '';
  const res = await request(server.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(APP.id, APP.secret) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: APP.redirectUri, resource: API_RESOURCE }).toString(),
  });
  const body = (await res.body.json()) as { refresh_token?: string };
  if (res.statusCode !== 200 || body.refresh_token === undefined) throw new Error(`code exchange failed: ${res.statusCode} ${JSON.stringify(body)}`);
  return body.refresh_token;
}

/** One refresh_token grant by the test itself (to spend a refresh token outside the sidecar); the status. */
export async function refreshOnce(server: OidcServer, refreshToken: string): Promise<number> {
  const res = await request(server.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(APP.id, APP.secret) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  await res.body.text();
  return res.statusCode;
}
