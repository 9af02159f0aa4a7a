import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulators, type EmulatorSet } from '../../src/emulators/index.js';
import { ERROR_CODES } from '../../src/errors.js';
import { closedPort } from '../support/ports.js';
import { parseRaw, rawHttp } from '../support/raw-http.js';
import { startSidecar, type RunningSidecar } from '../support/sidecar.js';

let emulators: EmulatorSet;
let sidecar: RunningSidecar;

beforeAll(async () => {
  emulators = await startEmulators();
  const deadPort = await closedPort();
  sidecar = await startSidecar({
    timeouts: { upstreamHeaders: '500ms', token: '1s', connect: '1s' },
    refresh: { backoffInitial: '1s', backoffMax: '2s' },
    routes: {
      covver: { provider: 'covver', upstream: emulators.covver.apiUrl, tokenUrl: emulators.covver.tokenUrl, credentials: DEMO_CLIENTS.covver },
      cobee: { provider: 'cobee', upstream: emulators.cobee.apiUrl, tokenUrl: emulators.cobee.tokenUrl, credentials: DEMO_CLIENTS.cobee },
      'token-down': { provider: 'cobee', upstream: emulators.cobee.apiUrl, tokenUrl: `http://127.0.0.1:${deadPort}/api/v3/oauth/token`, credentials: DEMO_CLIENTS.cobee },
      'wrong-secret': { provider: 'covver', upstream: emulators.covver.apiUrl, tokenUrl: emulators.covver.tokenUrl, credentials: { clientId: 'unknown-client', clientSecret: 'not-the-secret' } },
      'upstream-down': { provider: 'covver', upstream: `http://127.0.0.1:${deadPort}`, tokenUrl: emulators.covver.tokenUrl, credentials: DEMO_CLIENTS.covver },
      'upstream-slow': { provider: 'petje', upstream: emulators.petje.apiUrl, tokenUrl: emulators.petje.tokenUrl, credentials: { ...DEMO_CLIENTS.petje, refreshToken: emulators.petje.issueRefreshToken() } },
    },
  });
});

afterAll(async () => {
  await sidecar?.stop();
  await emulators?.close();
});

async function expectError(path: string, code: keyof typeof ERROR_CODES, route: string | null) {
  const response = await request(`${sidecar.url}${path}`);
  expect(response.statusCode).toBe(ERROR_CODES[code].status);
  expect(response.headers['content-type']).toBe('application/json');
  expect(response.headers['x-token-sidecar-error']).toBe(code);
  const body = (await response.body.json()) as { error: string; route: string | null; message: string };
  expect(body).toEqual({ error: code, route, message: ERROR_CODES[code].message });
  return response;
}

describe('SPEC §4: every error the sidecar answers, from a real failing endpoint', () => {
  it('no_route: 404 for a path no route matches', async () => {
    await expectError('/nope/whoami', 'no_route', null);
    await expectError('/', 'no_route', null);
  });

  it('token_unavailable: 503 with Retry-After when the token endpoint is unreachable', async () => {
    const response = await expectError('/token-down/whoami', 'token_unavailable', 'token-down');
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('token_rejected: 502 when the token endpoint rejects the credentials', async () => {
    await expectError('/wrong-secret/whoami', 'token_rejected', 'wrong-secret');
  });

  it('upstream_unavailable: 502 when the upstream refuses connections', async () => {
    await expectError('/upstream-down/whoami', 'upstream_unavailable', 'upstream-down');
  });

  it('upstream_timeout: 504 when the upstream sends no headers in time', async () => {
    emulators.petje.injectApiFault({ fault: { kind: 'stall' }, times: 1 });
    await expectError('/upstream-slow/whoami', 'upstream_timeout', 'upstream-slow');
    // The route recovers at once.
    expect((await request(`${sidecar.url}/upstream-slow/whoami`)).statusCode).toBe(200);
  });

  it('bad_request: 400 for paths that would leave their route', async () => {
    // Raw bytes: HTTP clients normalise dot segments away before sending.
    const answer = parseRaw(await rawHttp(sidecar.url, 'GET /covver/%2e%2e/cobee/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.headers).toContain('content-type: application/json');
    expect(answer.headers).toContain('x-token-sidecar-error: bad_request');
    expect(JSON.parse(answer.body)).toEqual({ error: 'bad_request', route: null, message: ERROR_CODES.bad_request.message });
  });

  it('every failing route is visible on /readyz without secrets (ready: a rejected credential does not take the pod out)', async () => {
    const response = await request(`${sidecar.adminUrl}/readyz`);
    expect(response.statusCode).toBe(200);
    const body = (await response.body.json()) as { routes: Array<{ route: string; state: string }> };
    expect(body.routes.find((route) => route.route === 'wrong-secret')?.state).toBe('rejected');
    expect(body.routes.find((route) => route.route === 'covver')?.state).toBe('valid');
    expect(JSON.stringify(body)).not.toContain('not-the-secret');
  });
});

describe('path crossing: no request reaches another route or carries its token elsewhere', () => {
  const attempts = [
    ['dot-dot segment', 'GET /covver/../cobee/whoami HTTP/1.1', 400],
    ['encoded dot-dot', 'GET /covver/%2e%2e/cobee/whoami HTTP/1.1', 400],
    ['upper-case encoded dot-dot', 'GET /covver/%2E%2E/cobee/whoami HTTP/1.1', 400],
    ['mixed dot-dot', 'GET /covver/.%2e/cobee/whoami HTTP/1.1', 400],
    ['encoded slash', 'GET /covver/..%2fcobee/whoami HTTP/1.1', 400],
    ['encoded slash in route segment', 'GET /covver%2f..%2fcobee/whoami HTTP/1.1', 400],
    ['backslash', 'GET /covver/..\\cobee/whoami HTTP/1.1', 400],
    ['encoded backslash', 'GET /covver/..%5ccobee/whoami HTTP/1.1', 400],
    ['leading dot segment', 'GET /./cobee/whoami HTTP/1.1', 400],
    ['invalid escape', 'GET /covver/%zz HTTP/1.1', 400],
    ['absolute URI to another host', 'GET http://evil.example/covver/whoami HTTP/1.1', 400],
    ['absolute URI to a route upstream', 'GET {cobee}/whoami HTTP/1.1', 400],
    ['CONNECT tunnel', 'CONNECT evil.example:443 HTTP/1.1', 400],
    ['empty route segment', 'GET //cobee/whoami HTTP/1.1', 404],
  ] as const;

  it.each(attempts)('%s is refused and no upstream sees it', async (_name, line, status) => {
    const before = emulators.covver.stats.apiRequests + emulators.cobee.stats.apiRequests;
    const answer = parseRaw(await rawHttp(sidecar.url, `${line.replace('{cobee}', emulators.cobee.apiUrl)}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    expect(answer.status).toBe(status);
    expect(answer.headers).toContain('x-token-sidecar-error');
    expect(emulators.covver.stats.apiRequests + emulators.cobee.stats.apiRequests).toBe(before);
  });

  it("a Host header naming another upstream does not move the request: Host becomes the route's upstream", async () => {
    const response = await request(`${sidecar.url}/covver/echo`, { headers: { host: new URL(emulators.cobee.apiUrl).host } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-emulator-client-id']).toBe(DEMO_CLIENTS.covver.clientId);
    expect(response.headers['x-emulator-host']).toBe(new URL(emulators.covver.apiUrl).host);
    await response.body.dump();
  });

  it('the sidecar keeps serving after all of that', async () => {
    expect((await request(`${sidecar.url}/cobee/whoami`)).statusCode).toBe(200);
  });
});
