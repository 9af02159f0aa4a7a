import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { startSidecar, type RunningSidecar } from '../support/sidecar.js';

const TLS = resolve(import.meta.dirname, '../fixtures/tls');
const tls = { key: readFileSync(`${TLS}/server-key.pem`), cert: readFileSync(`${TLS}/server.pem`) };

let secure: Emulator;
let plain: Emulator;
let sidecar: RunningSidecar;

beforeAll(async () => {
  secure = await startEmulator('covver', { tls });
  plain = await startEmulator('light');
  sidecar = await startSidecar({
    routes: {
      trusted: { provider: 'covver', upstream: secure.apiUrl, tokenUrl: secure.tokenUrl, caFile: `${TLS}/ca.pem`, credentials: DEMO_CLIENTS.covver },
      untrusted: { provider: 'covver', upstream: secure.apiUrl, tokenUrl: `${secure.tokenUrl}`.replace('127.0.0.1', 'localhost'), credentials: DEMO_CLIENTS.covver },
      light: { provider: 'light', upstream: plain.apiUrl, tokenUrl: plain.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken: plain.issueRefreshToken() } },
      'light-key': { provider: 'light', upstream: plain.apiUrl, credentials: { apiKey: 'demo-light-api-key' } },
    },
  });
});

afterAll(async () => {
  await sidecar?.stop();
  await secure?.close();
  await plain?.close();
});

describe('HTTPS upstreams', () => {
  it('verifies certificates and trusts a route caFile: token and API calls both over TLS', async () => {
    expect(secure.url).toMatch(/^https:/);
    const response = await request(`${sidecar.url}/trusted/echo`, { method: 'POST', body: 'over tls' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-emulator-client-id']).toBe(DEMO_CLIENTS.covver.clientId);
    expect(await response.body.text()).toBe('over tls');
  });

  it('refuses an upstream whose certificate it cannot verify: no token is sent to it', async () => {
    const before = secure.stats.tokenRequests;
    const response = await request(`${sidecar.url}/untrusted/whoami`);
    // The token endpoint is untrusted too, so no token is ever obtained or sent.
    expect(response.statusCode).toBe(503);
    expect(response.headers['x-token-sidecar-error']).toBe('token_unavailable');
    await response.body.dump();
    expect(secure.stats.tokenRequests).toBe(before);
  });
});

describe('WebSocket upgrades', () => {
  function exchange(url: string): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: 'Bearer the-apps-own' } });
      socket.once('open', () => socket.send('ping'));
      socket.once('message', (data) => {
        resolvePromise(data.toString());
        socket.close();
      });
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  it('carries an upgrade to the route upstream with the route token', async () => {
    expect(await exchange(`${sidecar.url.replace('http', 'ws')}/light/ws`)).toBe(`${DEMO_CLIENTS.light.clientId}: ping`);
  });

  it('carries an upgrade with a static API key', async () => {
    expect(await exchange(`${sidecar.url.replace('http', 'ws')}/light-key/ws`)).toBe('api-key: ping');
  });

  it('answers an upgrade to no route with the JSON error', async () => {
    await expect(exchange(`${sidecar.url.replace('http', 'ws')}/nope/ws`)).rejects.toThrow('upgrade answered 404');
  });
});
