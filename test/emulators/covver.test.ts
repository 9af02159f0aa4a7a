import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, jwtPayload, ManualClock, postForm, postJson } from './kit.js';

const { clientId, clientSecret } = DEMO_CLIENTS.covver;

describe('Covver emulator', () => {
  let clock: ManualClock;
  let covver: Emulator;
  beforeEach(async () => {
    clock = new ManualClock();
    covver = await startEmulator('covver', { now: clock.now });
  });
  afterEach(() => covver.close());

  it('lays out its URLs: separate refresh path, API on the whole origin', () => {
    expect(covver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(covver.tokenUrl).toBe(`${covver.url}/api/ext/v1/oauth/tokens`);
    expect(covver.refreshUrl).toBe(`${covver.url}/api/ext/v1/oauth/refresh-token`);
    expect(covver.apiUrl).toBe(covver.url);
  });

  it('issues camelCase {accessToken, refreshToken, expiresIn} for clientCredentials, usable on the API', async () => {
    const answer = await postJson(covver.tokenUrl, { grantType: 'clientCredentials', clientId, clientSecret });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const tokens = body(answer);
    expect(Object.keys(tokens).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken']);
    expect(tokens.expiresIn).toBe(600);
    expect(jwtPayload(tokens.accessToken).exp).toBe(Math.floor(clock.ms / 1000) + 600);

    const whoami = await call(`${covver.apiUrl}/api/ext/v1/people?limit=2`, { headers: bearer(tokens.accessToken) });
    expect(whoami.status).toBe(200);
    expect(body(whoami)).toMatchObject({ provider: 'covver', clientId, method: 'GET', path: '/api/ext/v1/people?limit=2' });
    expect(covver.stats).toMatchObject({ tokenRequests: 1, byGrant: { client_credentials: 1 }, issuedTokens: 1 });
  });

  it('defaults grantType to clientCredentials and rejects any other grantType with 400', async () => {
    expect((await postJson(covver.tokenUrl, { clientId, clientSecret })).status).toBe(200);
    const wrong = await postJson(covver.tokenUrl, { grantType: 'refreshToken', clientId, clientSecret });
    expect(wrong.status).toBe(400);
    expect(body(wrong)).toEqual({
      message: 'body/grantType must be equal to one of the allowed values',
      errorCode: 'VALIDATION_ERROR',
      error: 'Bad Request',
      statusCode: 400,
    });
  });

  it('binds a token to companyId, echoed by the API and kept across refresh', async () => {
    const tokens = body(await postJson(covver.tokenUrl, { clientId, clientSecret, companyId: 'acme-42' }));
    expect(body(await call(`${covver.apiUrl}/me`, { headers: bearer(tokens.accessToken) }))).toMatchObject({ companyId: 'acme-42' });
    const refreshed = body(await postJson(covver.refreshUrl, { grantType: 'refreshToken', refreshToken: tokens.refreshToken }));
    expect(body(await call(`${covver.apiUrl}/me`, { headers: bearer(refreshed.accessToken) }))).toMatchObject({ companyId: 'acme-42' });
    const plain = body(await postJson(covver.tokenUrl, { clientId, clientSecret }));
    expect(body(await call(`${covver.apiUrl}/me`, { headers: bearer(plain.accessToken) }))).not.toHaveProperty('companyId');
  });

  it('answers a form body with 400 INVALID_CONTENT_TYPE in the Covver error shape', async () => {
    const answer = await postForm(covver.tokenUrl, { clientId, clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toMatchObject({ errorCode: 'INVALID_CONTENT_TYPE', error: 'Bad Request', statusCode: 400 });
    expect(typeof body(answer).message).toBe('string');
  });

  it('answers snake_case fields with 400 naming the missing camelCase property', async () => {
    const answer = await postJson(covver.tokenUrl, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toEqual({
      message: "body must have required property 'clientId'",
      errorCode: 'VALIDATION_ERROR',
      error: 'Bad Request',
      statusCode: 400,
    });
  });

  it('answers malformed JSON and non-string fields with 400, and keeps serving', async () => {
    const broken = await call(covver.tokenUrl, { body: '{"clientId": ', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(body(broken)).toMatchObject({ errorCode: 'INVALID_BODY', statusCode: 400 });
    const typed = await postJson(covver.tokenUrl, { clientId: 7, clientSecret });
    expect(body(typed)).toMatchObject({ message: 'body/clientId must be string', statusCode: 400 });
    expect((await postJson(covver.tokenUrl, { clientId, clientSecret })).status).toBe(200);
  });

  it('answers wrong credentials with 401 INVALID_CLIENT_CREDENTIALS', async () => {
    for (const credentials of [{ clientId, clientSecret: 'nope' }, { clientId: 'stranger', clientSecret }]) {
      const answer = await postJson(covver.tokenUrl, credentials);
      expect(answer.status).toBe(401);
      expect(body(answer)).toEqual({
        message: 'Invalid client credentials',
        errorCode: 'INVALID_CLIENT_CREDENTIALS',
        error: 'Unauthorized',
        statusCode: 401,
      });
    }
    expect(covver.stats.issuedTokens).toBe(0);
  });

  it('refreshes on the refresh path with the same response shape; the old refresh token stays valid', async () => {
    const first = body(await postJson(covver.tokenUrl, { clientId, clientSecret }));
    const answer = await postJson(covver.refreshUrl, { grantType: 'refreshToken', refreshToken: first.refreshToken });
    expect(answer.status).toBe(200);
    const second = body(answer);
    expect(Object.keys(second).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken']);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await call(`${covver.apiUrl}/x`, { headers: bearer(second.accessToken) })).status).toBe(200);
    expect((await postJson(covver.refreshUrl, { refreshToken: first.refreshToken })).status).toBe(200);
    expect(covver.stats.byGrant).toEqual({ client_credentials: 1, refresh_token: 2 });
  });

  it('accepts a bootstrap refresh token from issueRefreshToken()', async () => {
    const answer = await postJson(covver.refreshUrl, { grantType: 'refreshToken', refreshToken: covver.issueRefreshToken() });
    expect(answer.status).toBe(200);
    expect(body(await call(`${covver.apiUrl}/x`, { headers: bearer(body(answer).accessToken) }))).toMatchObject({ clientId });
  });

  it('answers unknown and 30-day-old refresh tokens with 401 INVALID_REFRESH_TOKEN', async () => {
    const unknown = await postJson(covver.refreshUrl, { grantType: 'refreshToken', refreshToken: 'made-up' });
    expect(unknown.status).toBe(401);
    expect(body(unknown)).toMatchObject({ errorCode: 'INVALID_REFRESH_TOKEN', error: 'Unauthorized', statusCode: 401 });
    const refreshToken = covver.issueRefreshToken();
    clock.advance(30 * 24 * 3600 * 1000);
    expect(body(await postJson(covver.refreshUrl, { refreshToken }))).toMatchObject({ errorCode: 'INVALID_REFRESH_TOKEN' });
  });

  it('answers a refresh without refreshToken with 400 and counts it as invalid', async () => {
    const answer = await postJson(covver.refreshUrl, { grantType: 'refreshToken', refresh_token: 'x' });
    expect(answer.status).toBe(400);
    expect(body(answer)).toMatchObject({ message: "body must have required property 'refreshToken'", statusCode: 400 });
    expect(covver.stats).toMatchObject({ tokenRequests: 1, byGrant: { invalid: 1 }, issuedTokens: 0 });
  });

  it('has no authorization_code grant', () => {
    expect(() => covver.issueAuthorizationCode()).toThrow(/no authorization_code/);
  });
});
