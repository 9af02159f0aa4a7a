import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, postForm, postJson } from './kit.js';

const { clientId, clientSecret } = DEMO_CLIENTS.light;

describe('Light emulator', () => {
  let light: Emulator;
  const exchange = (code: string, extra: Record<string, string> = {}) =>
    postForm(light.tokenUrl, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://app.example.test/callback',
      client_id: clientId,
      client_secret: clientSecret,
      ...extra,
    });
  const refresh = (refreshToken: unknown) =>
    postForm(light.tokenUrl, { grant_type: 'refresh_token', refresh_token: String(refreshToken), client_id: clientId, client_secret: clientSecret });
  const api = (token: unknown) => call(`${light.apiUrl}/ledger`, { headers: bearer(token) });

  beforeEach(async () => {
    light = await startEmulator('light');
  });
  afterEach(() => light.close());

  it('serves /oauth/token, with the API under /v1', () => {
    expect(light.tokenUrl).toBe(`${light.url}/oauth/token`);
    expect(light.refreshUrl).toBe(light.tokenUrl);
    expect(light.apiUrl).toBe(`${light.url}/v1`);
  });

  it('exchanges a code for {access_token, expires_in, token_type, refresh_token} as application/json;charset=UTF-8', async () => {
    const answer = await exchange(light.issueAuthorizationCode());
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    const tokens = body(answer);
    expect(Object.keys(tokens).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(body(await api(tokens.access_token))).toMatchObject({ provider: 'light', clientId, path: '/v1/ledger' });
  });

  it('requires redirect_uri with a code, and takes each code once', async () => {
    const code = light.issueAuthorizationCode();
    const noRedirect = await postForm(light.tokenUrl, { grant_type: 'authorization_code', code, client_id: clientId, client_secret: clientSecret });
    expect(noRedirect.status).toBe(400);
    expect(body(noRedirect)).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: redirect_uri' });
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect(body(again)).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it('answers JSON bodies and camelCase fields with 400 invalid_request', async () => {
    const json = await postJson(light.tokenUrl, { grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId, client_secret: clientSecret });
    expect(json.status).toBe(400);
    expect(body(json)).toMatchObject({ error: 'invalid_request' });
    const camel = await postForm(light.tokenUrl, { grant_type: 'refresh_token', refreshToken: 'x', clientId, clientSecret });
    expect(camel.status).toBe(400);
    expect(body(camel)).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: refresh_token' });
  });

  it('answers a repeated parameter with invalid_request', async () => {
    const answer = await call(light.tokenUrl, {
      body: 'grant_type=refresh_token&grant_type=authorization_code',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(body(answer)).toEqual({ error: 'invalid_request', error_description: 'Parameter grant_type is repeated' });
  });

  it('answers wrong client credentials with 401 invalid_client, without spending the refresh token', async () => {
    const refreshToken = light.issueRefreshToken();
    const answer = await postForm(light.tokenUrl, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: 'wrong' });
    expect(answer.status).toBe(401);
    expect(body(answer)).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect((await refresh(refreshToken)).status).toBe(200);
  });

  it('rotates refresh tokens, and reuse of a dead one revokes the whole family', async () => {
    const first = body(await exchange(light.issueAuthorizationCode()));
    const second = body(await refresh(first.refresh_token));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await api(first.access_token)).status).toBe(200);
    expect((await api(second.access_token)).status).toBe(200);

    const otherFamily = body(await refresh(light.issueRefreshToken()));

    const reuse = await refresh(first.refresh_token);
    expect(reuse.status).toBe(400);
    expect(body(reuse)).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
    // The whole family is gone: its newest refresh token and every access token it produced.
    expect(body(await refresh(second.refresh_token))).toMatchObject({ error: 'invalid_grant' });
    expect((await api(first.access_token)).status).toBe(401);
    expect((await api(second.access_token)).status).toBe(401);
    // Other families are untouched.
    expect((await api(otherFamily.access_token)).status).toBe(200);
    expect((await refresh(otherFamily.refresh_token)).status).toBe(200);
  });

  it('accepts the raw API key as Authorization: Basic <key>, not base64 user:pass', async () => {
    const raw = await call(`${light.apiUrl}/ledger`, { headers: { authorization: `Basic ${DEMO_LIGHT_API_KEY}` } });
    expect(raw.status).toBe(200);
    expect(body(raw)).toMatchObject({ provider: 'light', clientId: 'api-key' });
    const encoded = Buffer.from(`${DEMO_LIGHT_API_KEY}:`).toString('base64');
    expect((await call(`${light.apiUrl}/ledger`, { headers: { authorization: `Basic ${encoded}` } })).status).toBe(401);
    expect((await call(`${light.apiUrl}/ledger`, { headers: { authorization: `Bearer ${DEMO_LIGHT_API_KEY}` } })).status).toBe(401);
  });

  it('accepts configured API keys instead of the demo key', async () => {
    const custom = await startEmulator('light', { apiKeys: ['team-key'] });
    try {
      expect((await call(`${custom.apiUrl}/x`, { headers: { authorization: 'Basic team-key' } })).status).toBe(200);
      expect((await call(`${custom.apiUrl}/x`, { headers: { authorization: `Basic ${DEMO_LIGHT_API_KEY}` } })).status).toBe(401);
    } finally {
      await custom.close();
    }
  });

  it('refuses apiKeys on the other providers', async () => {
    await expect(startEmulator('covver', { apiKeys: ['k'] })).rejects.toThrow(/Light option/);
  });
});
