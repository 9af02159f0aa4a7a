import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, postForm, postJson } from './kit.js';

const { clientId, clientSecret } = DEMO_CLIENTS.cobee;

describe('Cobee emulator', () => {
  let cobee: Emulator;
  beforeEach(async () => {
    cobee = await startEmulator('cobee');
  });
  afterEach(() => cobee.close());

  it('lives under /api/v3: token at /api/v3/oauth/token, API beside it, no separate refresh path', () => {
    expect(cobee.tokenUrl).toBe(`${cobee.url}/api/v3/oauth/token`);
    expect(cobee.refreshUrl).toBe(cobee.tokenUrl);
    expect(cobee.apiUrl).toBe(`${cobee.url}/api/v3`);
  });

  it('issues camelCase {accessToken, tokenType, expiresIn} with no refresh token, usable on the API', async () => {
    const answer = await postJson(cobee.tokenUrl, { clientId, clientSecret });
    expect(answer.status).toBe(200);
    const tokens = body(answer);
    expect(Object.keys(tokens).sort()).toEqual(['accessToken', 'expiresIn', 'tokenType']);
    expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 86400 });
    const whoami = await call(`${cobee.apiUrl}/employees`, { headers: bearer(tokens.accessToken) });
    expect(body(whoami)).toMatchObject({ provider: 'cobee', clientId, path: '/api/v3/employees' });
    expect(cobee.stats.byGrant).toEqual({ client_credentials: 1 });
  });

  it('answers paths outside /api/v3 with 404', async () => {
    const tokens = body(await postJson(cobee.tokenUrl, { clientId, clientSecret }));
    expect((await call(`${cobee.url}/api/v2/employees`, { headers: bearer(tokens.accessToken) })).status).toBe(404);
  });

  it('answers a form body with the validation_error of a missing clientId', async () => {
    const answer = await postForm(cobee.tokenUrl, { clientId, clientSecret });
    expect(answer.status).toBe(400);
    expect(body(answer)).toEqual({ code: 'validation_error', message: "body: must have required property 'clientId'" });
  });

  it('answers snake_case fields and a missing clientSecret with 400 validation_error', async () => {
    const snake = await postJson(cobee.tokenUrl, { client_id: clientId, client_secret: clientSecret });
    expect(snake.status).toBe(400);
    expect(body(snake)).toEqual({ code: 'validation_error', message: "body: must have required property 'clientId'" });
    const half = await postJson(cobee.tokenUrl, { clientId });
    expect(body(half)).toEqual({ code: 'validation_error', message: "body: must have required property 'clientSecret'" });
  });

  it('answers malformed JSON with 400 validation_error and keeps serving', async () => {
    const answer = await call(cobee.tokenUrl, { body: '[1,', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(body(answer)).toMatchObject({ code: 'validation_error' });
    expect((await postJson(cobee.tokenUrl, { clientId, clientSecret })).status).toBe(200);
  });

  it('answers wrong credentials with 401 {message: "Unauthorized"}', async () => {
    const answer = await postJson(cobee.tokenUrl, { clientId, clientSecret: 'wrong' });
    expect(answer.status).toBe(401);
    expect(body(answer)).toEqual({ message: 'Unauthorized' });
  });

  it('has neither refresh tokens nor authorization codes', () => {
    expect(() => cobee.issueRefreshToken()).toThrow(/no refresh tokens/);
    expect(() => cobee.issueAuthorizationCode()).toThrow(/no authorization_code/);
  });
});
