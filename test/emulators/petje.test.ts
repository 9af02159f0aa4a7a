import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, jwtPayload, ManualClock, postForm, postJson } from './kit.js';

const { clientId, clientSecret } = DEMO_CLIENTS.petje;
const PROBLEM_LINKS = { documentation: { href: 'https://docs.petje.af', type: 'text/html' } };

describe('Petje.af emulator', () => {
  let clock: ManualClock;
  let petje: Emulator;
  const exchange = (code: string) =>
    postForm(petje.tokenUrl, { grant_type: 'authorization_code', code, client_id: clientId, client_secret: clientSecret });
  const refresh = (refreshToken: unknown) =>
    postForm(petje.tokenUrl, { grant_type: 'refresh_token', refresh_token: String(refreshToken), client_id: clientId, client_secret: clientSecret });

  beforeEach(async () => {
    clock = new ManualClock();
    petje = await startEmulator('petje', { now: clock.now });
  });
  afterEach(() => petje.close());

  it('serves /v1/oauth2/tokens, with the API under /v1', () => {
    expect(petje.tokenUrl).toBe(`${petje.url}/v1/oauth2/tokens`);
    expect(petje.refreshUrl).toBe(petje.tokenUrl);
    expect(petje.apiUrl).toBe(`${petje.url}/v1`);
  });

  it('exchanges a code for snake_case tokens whose access token is a JWT with name, email, id, exp', async () => {
    const answer = await exchange(petje.issueAuthorizationCode());
    expect(answer.status).toBe(200);
    const tokens = body(answer);
    expect(Object.keys(tokens).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3599, scope: 'memberships.read' });
    const claims = jwtPayload(tokens.access_token);
    expect(claims).toMatchObject({ name: expect.any(String), email: expect.any(String), id: expect.anything() });
    expect(claims.exp).toBe(Math.floor(clock.ms / 1000) + 3599);
    const whoami = await call(`${petje.apiUrl}/memberships`, { headers: bearer(tokens.access_token) });
    expect(body(whoami)).toMatchObject({ provider: 'petje', clientId, path: '/v1/memberships' });
    expect(petje.stats.byGrant).toEqual({ authorization_code: 1 });
  });

  it('takes each code once: the second exchange is a 400 problem document', async () => {
    const code = petje.issueAuthorizationCode();
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect(body(again)).toEqual({
      status: 400,
      title: 'Bad Request',
      detail: 'Invalid grant: authorization code is invalid',
      _links: PROBLEM_LINKS,
    });
    expect(body(await exchange('made-up'))).toMatchObject({ status: 400, detail: 'Invalid grant: authorization code is invalid' });
  });

  it('refuses a code issued to another client', async () => {
    const answer = await exchange(petje.issueAuthorizationCode('someone-else'));
    expect(body(answer)).toMatchObject({ status: 400, detail: 'Invalid grant: authorization code is invalid' });
  });

  it('answers a JSON body with RFC 6749 invalid_request', async () => {
    const answer = await postJson(petje.tokenUrl, { grant_type: 'authorization_code', code: 'x', client_id: clientId, client_secret: clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('answers camelCase form fields with invalid_request naming the missing parameter', async () => {
    const answer = await postForm(petje.tokenUrl, { grantType: 'authorization_code', code: 'x', clientId, clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: grant_type' });
    const half = await postForm(petje.tokenUrl, { grant_type: 'authorization_code', code: 'x', clientId, clientSecret });
    expect(body(half)).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: client_id' });
  });

  it('answers an unsupported grant_type with unsupported_grant_type', async () => {
    const answer = await postForm(petje.tokenUrl, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('answers wrong client credentials with 401 invalid_client', async () => {
    const answer = await postForm(petje.tokenUrl, {
      grant_type: 'authorization_code',
      code: petje.issueAuthorizationCode(),
      client_id: clientId,
      client_secret: 'wrong',
    });
    expect(answer.status).toBe(401);
    expect(body(answer)).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
  });

  it('rotates refresh tokens: the old one becomes an invalid grant, the family lives on', async () => {
    const first = body(await exchange(petje.issueAuthorizationCode()));
    const secondAnswer = await refresh(first.refresh_token);
    expect(secondAnswer.status).toBe(200);
    const second = body(secondAnswer);
    expect(second.refresh_token).not.toBe(first.refresh_token);

    const reuse = await refresh(first.refresh_token);
    expect(reuse.status).toBe(400);
    expect(body(reuse)).toEqual({ status: 400, title: 'Bad Request', detail: 'Invalid grant: refresh token is invalid', _links: PROBLEM_LINKS });

    // No family revocation: the newest refresh token and every access token still work.
    expect((await refresh(second.refresh_token)).status).toBe(200);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(first.access_token) })).status).toBe(200);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(second.access_token) })).status).toBe(200);
    expect(petje.stats.byGrant).toEqual({ authorization_code: 1, refresh_token: 3 });
  });

  it('accepts a bootstrap refresh token from issueRefreshToken()', async () => {
    expect((await refresh(petje.issueRefreshToken())).status).toBe(200);
  });
});
