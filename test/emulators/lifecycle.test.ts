import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { DEMO_CLIENTS, startEmulator, startEmulators } from '../../src/emulators/index.js';
import { bearer, body, call, postJson } from './kit.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('emulator lifecycle and options', () => {
  it('close() returns promptly with a hung token request, a stalled API request, a delay and an open WebSocket', async () => {
    const covver = await startEmulator('covver');
    const auth = bearer(body(await postJson(covver.tokenUrl, DEMO_CLIENTS.covver)).accessToken);
    const ws = new WebSocket(`${covver.apiUrl.replace('http', 'ws')}/ws`, { headers: auth });
    await once(ws, 'open');
    const wsClosed = once(ws, 'close');

    covver.injectTokenFault({ fault: { kind: 'hang' }, times: 1 });
    const hung = postJson(covver.tokenUrl, DEMO_CLIENTS.covver).then(() => 'answered', () => 'failed');
    covver.injectApiFault({ fault: { kind: 'stall' }, times: 1 });
    const stalled = call(`${covver.apiUrl}/me`, { headers: auth }).then(() => 'answered', () => 'failed');
    await vi.waitFor(() => expect(covver.stats).toMatchObject({ tokenRequests: 2, apiRequests: 2 }));
    covver.injectApiFault({ fault: { kind: 'delay', ms: 60_000 } });
    const delayed = call(`${covver.apiUrl}/me`, { headers: auth }).then(() => 'answered', () => 'failed');
    await vi.waitFor(() => expect(covver.stats.apiRequests).toBe(3));

    const started = performance.now();
    await covver.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await Promise.all([hung, stalled, delayed])).toEqual(['failed', 'failed', 'failed']);
    await wsClosed;
    await covver.close(); // idempotent
    await expect(call(`${covver.url}/me`)).rejects.toThrow();
  });

  it('serves HTTPS when given a certificate', async () => {
    const dir = new URL('./fixtures/', import.meta.url);
    const [key, cert] = await Promise.all([readFile(new URL('localhost-key.pem', dir)), readFile(new URL('localhost-cert.pem', dir))]);
    const cobee = await startEmulator('cobee', { tls: { key, cert } });
    const dispatcher = new Agent({ connect: { ca: cert } });
    try {
      expect(cobee.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(cobee.tokenUrl.startsWith('https://')).toBe(true);
      // Without the CA, the self-signed certificate is refused: it really is TLS.
      await expect(postJson(cobee.tokenUrl, DEMO_CLIENTS.cobee)).rejects.toThrow();
      const answer = await call(cobee.tokenUrl, {
        dispatcher,
        body: JSON.stringify(DEMO_CLIENTS.cobee),
        headers: { 'content-type': 'application/json' },
      });
      expect(answer.status).toBe(200);
      const whoami = await call(`${cobee.apiUrl}/me`, { dispatcher, headers: bearer(body(answer).accessToken) });
      expect(body(whoami)).toMatchObject({ provider: 'cobee' });
    } finally {
      await dispatcher.close();
      await cobee.close();
    }
  });

  it('startEmulators starts all four on their own ports, shared options overridden per provider', async () => {
    const set = await startEmulators({ lifetimeSeconds: 2, perProvider: { cobee: { lifetimeSeconds: 5, omitExpiresIn: true } } });
    try {
      const urls = [set.covver.url, set.cobee.url, set.petje.url, set.light.url];
      expect(new Set(urls).size).toBe(4);
      expect([set.covver.provider, set.cobee.provider, set.petje.provider, set.light.provider]).toEqual(['covver', 'cobee', 'petje', 'light']);
      expect(body(await postJson(set.covver.tokenUrl, DEMO_CLIENTS.covver)).expiresIn).toBe(2);
      const cobee = body(await postJson(set.cobee.tokenUrl, DEMO_CLIENTS.cobee));
      expect(cobee).not.toHaveProperty('expiresIn');
    } finally {
      await set.close();
    }
    await expect(call(`${set.light.apiUrl}/me`)).rejects.toThrow();
  });

  it('startEmulators closes what it started when one emulator fails', async () => {
    const port = await freePort();
    await expect(startEmulators({ perProvider: { covver: { port }, petje: { lifetimeSeconds: -1 } } })).rejects.toThrow(RangeError);
    // The covver emulator that did start has released its port.
    const again = await startEmulator('covver', { port });
    await again.close();
  });

  it('omitExpiresIn answers without expires_in, yet tokens still expire after the lifetime', async () => {
    let now = 0;
    const light = await startEmulator('light', { omitExpiresIn: true, lifetimeSeconds: 10, now: () => now });
    try {
      const { clientId, clientSecret } = DEMO_CLIENTS.light;
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: light.issueRefreshToken(), client_id: clientId, client_secret: clientSecret });
      const tokens = body(await call(light.tokenUrl, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
      expect(Object.keys(tokens).sort()).toEqual(['access_token', 'refresh_token', 'token_type']);
      now = 10_000;
      expect((await call(`${light.apiUrl}/me`, { headers: bearer(tokens.access_token) })).status).toBe(401);
    } finally {
      await light.close();
    }
  });

  it('accepts any of the configured clients and none other', async () => {
    const clients = [
      { clientId: 'app-a', clientSecret: 'secret-a' },
      { clientId: 'app-b', clientSecret: 'secret-b' },
    ];
    const covver = await startEmulator('covver', { clients });
    try {
      expect((await postJson(covver.tokenUrl, clients[1])).status).toBe(200);
      expect((await postJson(covver.tokenUrl, DEMO_CLIENTS.covver)).status).toBe(401);
      expect((await postJson(covver.tokenUrl, { clientId: 'app-a', clientSecret: 'secret-b' })).status).toBe(401);
      // issueRefreshToken() defaults to the first configured client
      const refreshed = body(await postJson(covver.refreshUrl, { refreshToken: covver.issueRefreshToken() }));
      expect(body(await call(`${covver.apiUrl}/me`, { headers: bearer(refreshed.accessToken) }))).toMatchObject({ clientId: 'app-a' });
    } finally {
      await covver.close();
    }
  });

  it('resetStats zeroes the live stats object in place', async () => {
    const cobee = await startEmulator('cobee');
    try {
      const stats = cobee.stats;
      await postJson(cobee.tokenUrl, DEMO_CLIENTS.cobee);
      await postJson(cobee.tokenUrl, {});
      await call(`${cobee.apiUrl}/me`);
      expect(stats).toEqual({ tokenRequests: 2, byGrant: { client_credentials: 1, invalid: 1 }, issuedTokens: 1, apiRequests: 1, apiUnauthorized: 1, apiAuthorized: 0, refreshReplays: 0 });
      cobee.resetStats();
      expect(stats).toEqual({ tokenRequests: 0, byGrant: {}, issuedTokens: 0, apiRequests: 0, apiUnauthorized: 0, apiAuthorized: 0, refreshReplays: 0 });
      expect(cobee.stats).toBe(stats);
    } finally {
      await cobee.close();
    }
  });

  it('counts every request to a token path, wrong method included, and answers it in the provider shape', async () => {
    const covver = await startEmulator('covver');
    try {
      const answer = await call(covver.tokenUrl);
      expect(answer.status).toBe(404);
      expect(body(answer)).toMatchObject({ errorCode: 'NOT_FOUND', statusCode: 404 });
      expect(covver.stats).toMatchObject({ tokenRequests: 1, byGrant: { invalid: 1 } });
    } finally {
      await covver.close();
    }
  });

  it('counts exactly one token request per request under concurrency', async () => {
    const cobee = await startEmulator('cobee');
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => postJson(cobee.tokenUrl, DEMO_CLIENTS.cobee)));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(cobee.stats).toMatchObject({ tokenRequests: 200, issuedTokens: 200 });
    } finally {
      await cobee.close();
    }
  });

  it('rejects bad options with the option named', async () => {
    await expect(startEmulator('covver', { lifetimeSeconds: -1 })).rejects.toThrow(/lifetimeSeconds/);
    await expect(startEmulator('covver', { lifetimeSeconds: 1.5 })).rejects.toThrow(/lifetimeSeconds/);
    await expect(startEmulator('covver', { clients: [] })).rejects.toThrow(/clients/);
    await expect(startEmulator('nope' as 'covver')).rejects.toThrow(/unknown provider/);
  });

  it('rejects when the port is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startEmulator('petje', { port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      blocker.close();
    }
  });

  it('survives a request with an oversized token body', async () => {
    const petje = await startEmulator('petje');
    try {
      const answer = await request(petje.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=refresh_token&refresh_token=${'x'.repeat(200_000)}`,
      });
      expect(answer.statusCode).toBe(400);
      expect(await answer.body.json()).toMatchObject({ error: 'invalid_request' });
    } finally {
      await petje.close();
    }
  });
});
