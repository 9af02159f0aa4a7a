import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulators, type EmulatorSet } from '../../src/emulators/index.js';
import { parseRaw, rawHttp } from '../support/raw-http.js';
import { startSidecar, type RunningSidecar } from '../support/sidecar.js';

let emulators: EmulatorSet;
let sidecar: RunningSidecar;

beforeAll(async () => {
  emulators = await startEmulators();
  sidecar = await startSidecar({
    routes: {
      covver: { provider: 'covver', upstream: emulators.covver.apiUrl, tokenUrl: emulators.covver.tokenUrl, credentials: DEMO_CLIENTS.covver },
      cobee: { provider: 'cobee', upstream: emulators.cobee.apiUrl, tokenUrl: emulators.cobee.tokenUrl, credentials: DEMO_CLIENTS.cobee },
      petje: { provider: 'petje', upstream: emulators.petje.apiUrl, tokenUrl: emulators.petje.tokenUrl, credentials: { ...DEMO_CLIENTS.petje, refreshToken: emulators.petje.issueRefreshToken() } },
      light: { provider: 'light', upstream: emulators.light.apiUrl, tokenUrl: emulators.light.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken: emulators.light.issueRefreshToken() } },
      'light-key': { provider: 'light', upstream: emulators.light.apiUrl, credentials: { apiKey: DEMO_LIGHT_API_KEY } },
      'covver-own-port': { provider: 'covver', upstream: emulators.covver.apiUrl, tokenUrl: emulators.covver.tokenUrl, listen: '127.0.0.1:0', credentials: DEMO_CLIENTS.covver },
    },
  });
});

afterAll(async () => {
  expect(await sidecar?.stop()).toBe(0);
  await emulators?.close();
});

const OAUTH_ROUTES = [
  ['covver', 'demo-covver'],
  ['cobee', 'demo-cobee'],
  ['petje', 'demo-petje'],
  ['light', 'demo-light'],
] as const;

describe('each provider through the built sidecar', () => {
  it.each(OAUTH_ROUTES)('%s: the API sees a valid token and the answer comes back byte-for-byte', async (route, clientId) => {
    const body = randomBytes(256 * 1024);
    const response = await request(`${sidecar.url}/${route}/echo?x=1&y=%20two`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer the-apps-own-token-must-not-pass', 'x-custom': 'kept' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-emulator-client-id']).toBe(clientId);
    expect(response.headers['x-emulator-method']).toBe('POST');
    expect(response.headers['x-emulator-path']).toMatch(/\/echo\?x=1&y=%20two$/);
    // Host becomes the upstream's.
    expect(response.headers['x-emulator-host']).toBe(new URL(emulators[route].apiUrl).host);
    expect(Buffer.from(await response.body.arrayBuffer()).equals(body)).toBe(true);
  });

  it.each(OAUTH_ROUTES)('%s: the upstream path is joined with the upstream base path, headers pass, hop-by-hop ones do not', async (route, clientId) => {
    // A raw request: HTTP clients rewrite Connection, and this test is about what the sidecar drops.
    const answer = parseRaw(
      await rawHttp(
        sidecar.url,
        `GET /${route}/people/42?q=a%2Fb HTTP/1.1\r\nHost: localhost\r\nX-Custom: kept\r\nX-Drop-Me: gone\r\nConnection: close, X-Drop-Me\r\nTE: trailers\r\nProxy-Authorization: Basic secret\r\n\r\n`,
      ),
    );
    expect(answer.status).toBe(200);
    const whoami = JSON.parse(answer.body) as { clientId: string; path: string; headers: Record<string, string> };
    expect(whoami.clientId).toBe(clientId);
    expect(whoami.path).toBe(`${new URL(emulators[route].apiUrl).pathname.replace(/\/$/, '')}/people/42?q=a%2Fb`);
    expect(whoami.headers['x-custom']).toBe('kept');
    expect(whoami.headers['x-drop-me']).toBeUndefined();
    expect(whoami.headers.te).toBeUndefined();
    expect(whoami.headers['proxy-authorization']).toBeUndefined();
  });

  it('light API-key mode sends Authorization: Basic <apiKey> and makes no token call', async () => {
    const before = emulators.light.stats.tokenRequests;
    const response = await request(`${sidecar.url}/light-key/whoami`);
    expect(response.statusCode).toBe(200);
    expect(((await response.body.json()) as { clientId: string }).clientId).toBe('api-key');
    expect(emulators.light.stats.tokenRequests).toBe(before);
  });

  it('a route on its own port maps every path unchanged', async () => {
    const response = await request(`${sidecar.routeUrls['covver-own-port']}/whoami?z=9`);
    expect(response.statusCode).toBe(200);
    expect(((await response.body.json()) as { path: string }).path).toBe('/whoami?z=9');
  });

  it('streams a large answer back whole', async () => {
    const response = await request(`${sidecar.url}/cobee/bytes/5000000`);
    expect(response.statusCode).toBe(200);
    const bytes = Buffer.from(await response.body.arrayBuffer());
    expect(bytes.length).toBe(5_000_000);
    expect(bytes[4_999_999]).toBe(4_999_999 % 251);
  });

  it("upstream 4xx and 5xx answers go back unchanged, without the sidecar's error header", async () => {
    for (const status of [400, 404, 418, 500, 503]) {
      const response = await request(`${sidecar.url}/covver/status/${status}`);
      expect(response.statusCode).toBe(status);
      expect(response.headers['x-token-sidecar-error']).toBeUndefined();
      expect(await response.body.json()).toEqual({ status });
    }
  });

  it('HEAD and 204 answers carry no body', async () => {
    expect((await request(`${sidecar.url}/covver/status/204`)).statusCode).toBe(204);
    const head = await request(`${sidecar.url}/covver/whoami`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(await head.body.text()).toBe('');
  });
});
