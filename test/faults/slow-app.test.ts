// A client that sends its request slowly (slowloris) against the built sidecar: the proxy
// listener's timeouts.appHeaders and timeouts.appRequest (Node's headersTimeout and
// requestTimeout) cut it in bounded time, before any token or upstream is touched, and the
// sidecar keeps serving. The defaults are tight: the app is on loopback and sends at once.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, Cleanup, fastConfig, routeFor, startSidecar, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
let api: Emulator;
let running: RunningSidecar;

beforeAll(async () => {
  api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  running = cleanup.add(await startSidecar(fastConfig({ api: routeFor(api) }, { refresh: { eager: false }, timeouts: { appHeaders: '300ms', appRequest: '800ms' } })), (started) => started.stop());
});
afterAll(() => cleanup.run());

/** Writes `bytes`, then holds the connection open without a further byte; resolves with what came back once the sidecar closes it. */
function stall(bytes: string): Promise<{ answer: string; ms: number }> {
  const { hostname, port } = new URL(running.url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, ms: performance.now() - started }));
  });
}

describe('a slow client is cut by the proxy listener', () => {
  it.each([
    ['a request head never finished', () => `GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `, 300],
    ['a body promised and never sent', () => 'POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc', 800],
  ])('%s: closed after its timeout, nothing forwarded, the sidecar still serves', async (_name, bytes, timeoutMs) => {
    const tokens = api.stats.tokenRequests;
    const requests = api.stats.apiRequests;
    const { answer, ms } = await stall(bytes());
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 50);
    // Node checks the timeouts at most every second here (connectionsCheckingInterval).
    expect(ms).toBeLessThan(timeoutMs + 2_500);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(api.stats.apiRequests).toBe(requests);
    if (timeoutMs === 300) expect(api.stats.tokenRequests).toBe(tokens);
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
  });
});

describe('the settings', () => {
  const routes = { covver: { provider: 'covver', upstream: 'https://api.covver.io', credentials: { clientId: 'a', clientSecret: 'b' } } };

  it('default to 5 s for the head and 60 s for the whole request (Node: 60 s and 300 s)', () => {
    expect(validateConfig({ routes }).timeouts).toMatchObject({ appHeaders: 5_000, appRequest: 60_000 });
  });

  it('appRequest may be 0 (no limit, for long uploads) but not shorter than appHeaders; appHeaders is never 0', () => {
    expect(validateConfig({ routes, timeouts: { appRequest: 0 } }).timeouts.appRequest).toBe(0);
    expect(() => validateConfig({ routes, timeouts: { appHeaders: '10s', appRequest: '5s' } })).toThrow('timeouts.appRequest: must be at least timeouts.appHeaders');
    expect(() => validateConfig({ routes, timeouts: { appHeaders: 0 } })).toThrow('timeouts.appHeaders: must be more than 0');
  });
});
