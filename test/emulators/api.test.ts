import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, ManualClock, postForm, postJson, refusedUpgrade } from './kit.js';

describe('protected API', () => {
  let clock: ManualClock;
  let petje: Emulator;
  let token: string;
  const newToken = async (): Promise<string> => {
    const { clientId, clientSecret } = DEMO_CLIENTS.petje;
    const code = petje.issueAuthorizationCode();
    const answer = await postForm(petje.tokenUrl, { grant_type: 'authorization_code', code, client_id: clientId, client_secret: clientSecret });
    return String(body(answer).access_token);
  };

  beforeEach(async () => {
    clock = new ManualClock();
    petje = await startEmulator('petje', { now: clock.now, lifetimeSeconds: 2 });
    token = await newToken();
  });
  afterEach(() => petje.close());

  it('answers 401 {"message":"Unauthorized"} without a live token and counts it', async () => {
    for (const headers of [{}, bearer('unknown'), { authorization: 'Bearer' }, { authorization: `Token ${token}` }]) {
      const answer = await call(`${petje.apiUrl}/me`, { headers });
      expect(answer.status).toBe(401);
      expect(answer.text).toBe('{"message":"Unauthorized"}');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
    }
    expect(petje.stats).toMatchObject({ apiRequests: 4, apiUnauthorized: 4, apiAuthorized: 0 });
  });

  it('accepts the Bearer scheme in any case', async () => {
    expect((await call(`${petje.apiUrl}/me`, { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
  });

  it('judges expiry with the injected clock', async () => {
    clock.advance(1999);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(token) })).status).toBe(200);
    clock.advance(1);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(token) })).status).toBe(401);
    expect(petje.stats).toMatchObject({ apiAuthorized: 1, apiUnauthorized: 1 });
  });

  it('setLifetime applies to tokens issued afterwards', async () => {
    petje.setLifetime(60);
    const longer = await newToken();
    clock.advance(30_000);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(token) })).status).toBe(401);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(longer) })).status).toBe(200);
    expect(() => petje.setLifetime(-1)).toThrow(RangeError);
  });

  it('expireAllAccessTokens kills every token issued so far, not later ones', async () => {
    petje.expireAllAccessTokens();
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(token) })).status).toBe(401);
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(await newToken()) })).status).toBe(200);
  });

  it('answers 404 outside the API base without asking for a token', async () => {
    const answer = await call(`${petje.url}/v2/me`);
    expect(answer.status).toBe(404);
    expect(petje.stats.apiRequests).toBe(0);
  });

  it('whoami: identity, method, raw path+query, headers without authorization, body size', async () => {
    const answer = await call(`${petje.apiUrl}/members/1?x=%2F&y=1`, {
      method: 'PUT',
      headers: { ...bearer(token), 'x-trace': 'abc', 'content-type': 'text/plain' },
      body: 'hello world',
    });
    expect(answer.status).toBe(200);
    const whoami = body(answer);
    expect(whoami).toMatchObject({
      provider: 'petje',
      clientId: DEMO_CLIENTS.petje.clientId,
      method: 'PUT',
      path: '/v1/members/1?x=%2F&y=1',
      bodyBytes: 11,
    });
    expect(whoami.headers).toMatchObject({ 'x-trace': 'abc', host: new URL(petje.url).host });
    expect(whoami.headers).not.toHaveProperty('authorization');
    expect(petje.stats).toMatchObject({ apiRequests: 1, apiAuthorized: 1 });
  });

  it('/echo returns the body byte for byte with its content-type and x-emulator-* headers', async () => {
    const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const answer = await request(`${petje.apiUrl}/echo?q=1`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/x-custom', host: 'api.petje.af' },
      body: payload,
    });
    expect(answer.statusCode).toBe(200);
    expect(Buffer.from(await answer.body.arrayBuffer()).equals(payload)).toBe(true);
    expect(answer.headers).toMatchObject({
      'content-type': 'application/x-custom',
      'x-emulator-client-id': DEMO_CLIENTS.petje.clientId,
      'x-emulator-method': 'PATCH',
      'x-emulator-path': '/v1/echo?q=1',
      'x-emulator-host': 'api.petje.af',
    });
  });

  it('/bytes/<n> streams n bytes where byte i is i % 251', async () => {
    const n = 300_000;
    const answer = await request(`${petje.apiUrl}/bytes/${n}`, { headers: bearer(token) });
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    expect(bytes.length).toBe(n);
    expect(bytes.every((byte, i) => byte === i % 251)).toBe(true);
    const empty = await call(`${petje.apiUrl}/bytes/0`, { headers: bearer(token) });
    expect([empty.status, empty.text]).toEqual([200, '']);
  });

  it('/status/<code> answers that status with {"status":code}, and no body where HTTP has none', async () => {
    const unavailable = await call(`${petje.apiUrl}/status/503`, { headers: bearer(token) });
    expect([unavailable.status, unavailable.text]).toEqual([503, '{"status":503}']);
    const teapot = await call(`${petje.apiUrl}/status/418`, { method: 'POST', body: 'x', headers: bearer(token) });
    expect([teapot.status, teapot.text]).toEqual([418, '{"status":418}']);
    const empty = await call(`${petje.apiUrl}/status/204`, { headers: bearer(token) });
    expect([empty.status, empty.text]).toEqual([204, '']);
    expect((await call(`${petje.apiUrl}/status/999`, { headers: bearer(token) })).status).toBe(400);
  });

  it('/status/<code> still requires a live token', async () => {
    expect((await call(`${petje.apiUrl}/status/200`)).status).toBe(401);
  });

  it('/ws upgrades with a live token and echoes each message prefixed with the client id', async () => {
    const ws = new WebSocket(`${petje.apiUrl.replace('http', 'ws')}/ws`, { headers: bearer(token) });
    await once(ws, 'open');
    ws.send('hello');
    const [text] = (await once(ws, 'message')) as [Buffer, boolean];
    expect(text.toString()).toBe(`${DEMO_CLIENTS.petje.clientId}: hello`);
    ws.send(Buffer.from([1, 2, 3]));
    const [binary, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect(isBinary).toBe(true);
    expect(binary.subarray(-3)).toEqual(Buffer.from([1, 2, 3]));
    ws.close();
    await once(ws, 'close');
  });

  it('/ws refuses the upgrade with 401 without a live token', async () => {
    const message = await refusedUpgrade(`${petje.apiUrl.replace('http', 'ws')}/ws`, bearer('expired-or-unknown'));
    expect(message).toBe('Unexpected server response: 401');
    expect(petje.stats.apiUnauthorized).toBe(1);
  });

  it('/ws survives a malformed frame: the connection closes, the emulator keeps serving', async () => {
    const socket = connect(Number(new URL(petje.apiUrl).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    );
    const [handshake] = (await once(socket, 'data')) as [Buffer];
    expect(handshake.toString()).toMatch(/^HTTP\/1\.1 101/);
    const closed = once(socket, 'close');
    socket.resume();
    socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4])); // reserved opcode 3: a protocol error
    await closed;
    expect((await call(`${petje.apiUrl}/me`, { headers: bearer(token) })).status).toBe(200);
  });

  it('covver: the API is the whole origin, special paths at its root', async () => {
    const covver = await startEmulator('covver');
    try {
      const tokens = body(await postJson(covver.tokenUrl, DEMO_CLIENTS.covver));
      const echo = await call(`${covver.apiUrl}/echo`, { body: '{"a":1}', headers: { ...bearer(tokens.accessToken), 'content-type': 'application/json' } });
      expect([echo.status, echo.text]).toEqual([200, '{"a":1}']);
      expect((await call(`${covver.apiUrl}/status/502`, { headers: bearer(tokens.accessToken) })).status).toBe(502);
    } finally {
      await covver.close();
    }
  });
});
