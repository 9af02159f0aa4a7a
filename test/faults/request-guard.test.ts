// Browser-shaped requests against the built sidecar (SPEC §2 `guard`): a page on the same
// machine must not spend the tokens. A DNS-rebinding Host, a cross-site form POST, a cross-site
// read, a preflight and a cross-site WebSocket are refused with 403 forbidden_request before any
// token is touched (refresh.eager off: the token endpoint sees nothing) and nothing reaches the
// upstream; requireHeader is checked first; a listener off loopback needs guard.allowNonLoopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { runCli, writeConfig } from '../support/sidecar.js';
import { call, Cleanup, fastConfig, rawExchange, rawStatus, routeFor, startSidecar, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
let api: Emulator;
let open: RunningSidecar;
let strict: RunningSidecar;

const LAZY = { refresh: { eager: false } };

beforeAll(async () => {
  api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  open = cleanup.add(await startSidecar(fastConfig({ api: routeFor(api) }, LAZY)), (started) => started.stop());
  strict = cleanup.add(
    await startSidecar(fastConfig({ api: routeFor(api) }, { ...LAZY, guard: { requireHeader: 'x-token-sidecar: 1', allowHosts: ['sidecar.internal'], allowOrigins: ['http://localhost:3000'] } })),
    (started) => started.stop(),
  );
});
afterAll(() => cleanup.run());

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

/** Sends raw bytes, and checks that nothing reached the token endpoint or the upstream. */
async function untouched(sidecar: RunningSidecar, bytes: string): Promise<string> {
  const tokens = api.stats.tokenRequests;
  const requests = api.stats.apiRequests;
  const answer = await rawExchange(sidecar.url, bytes);
  expect(api.stats.tokenRequests, 'no token was touched').toBe(tokens);
  expect(api.stats.apiRequests, 'nothing reached the upstream').toBe(requests);
  return answer;
}

function expectForbidden(answer: string): void {
  expect(rawStatus(answer), answer.slice(0, 300)).toBe(403);
  expect(answer).toMatch(/\r\nx-token-sidecar-error: forbidden_request\r\n/);
  expect(answer).toMatch(/\r\ncontent-type: application\/json\r\n/);
  expect(answer).toContain('"error":"forbidden_request"');
  expect(answer).not.toMatch(/access-control-allow-origin/i);
}

const port = (sidecar: RunningSidecar) => new URL(sidecar.url).port;

describe('browser-shaped requests are refused before any token is touched', () => {
  it.each<[string, (sidecar: RunningSidecar) => string]>([
    ['a DNS-rebinding Host', (s) => head(['GET /api/whoami HTTP/1.1', `Host: attacker.example:${port(s)}`, 'Connection: close'])],
    ['the machine\'s LAN name as Host', (s) => head(['GET /api/whoami HTTP/1.1', `Host: 192.168.1.20:${port(s)}`, 'Connection: close'])],
    ['a cross-site form POST', (s) => `${head(['POST /api/echo HTTP/1.1', `Host: 127.0.0.1:${port(s)}`, 'Origin: https://evil.example', 'Sec-Fetch-Site: cross-site', 'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 3', 'Connection: close'])}a=b`],
    ['a cross-site fetch read', (s) => head(['GET /api/whoami HTTP/1.1', `Host: 127.0.0.1:${port(s)}`, 'Origin: https://evil.example', 'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: cors', 'Connection: close'])],
    ['a no-cors read without Origin (img, script)', (s) => head(['GET /api/whoami HTTP/1.1', `Host: 127.0.0.1:${port(s)}`, 'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: no-cors', 'Connection: close'])],
    ['a page on localhost:3000 (same-site)', (s) => head(['GET /api/whoami HTTP/1.1', `Host: localhost:${port(s)}`, 'Sec-Fetch-Site: same-site', 'Connection: close'])],
    ['a CORS preflight', (s) => head(['OPTIONS /api/echo HTTP/1.1', `Host: 127.0.0.1:${port(s)}`, 'Origin: https://evil.example', 'Access-Control-Request-Method: PUT', 'Access-Control-Request-Headers: content-type', 'Connection: close'])],
    ['a cross-site WebSocket', (s) => head(['GET /api/ws HTTP/1.1', `Host: 127.0.0.1:${port(s)}`, 'Origin: https://evil.example', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])],
  ])('%s → 403 forbidden_request', async (_name, bytes) => {
    expectForbidden(await untouched(open, bytes(open)));
  });

  it('names the check that refused in a request_forbidden log line', () => {
    const checks = new Set(open.logs.filter((line) => line.event === 'request_forbidden').map((line) => line.check));
    expect(checks).toEqual(new Set(['host', 'origin', 'sec_fetch_site', 'preflight']));
  });

  it('the app itself still gets through: loopback Host, Sec-Fetch-Site none or same-origin', async () => {
    expect((await call(`${open.url}/api/whoami`)).status).toBe(200);
    expect((await call(`${open.url}/api/whoami`, { headers: { 'sec-fetch-site': 'none' } })).status).toBe(200);
    expect(rawStatus(await rawExchange(open.url, head(['GET /api/whoami HTTP/1.1', `Host: localhost:${port(open)}`, 'Sec-Fetch-Site: same-origin', 'Connection: close'])))).toBe(200);
  });
});

describe('requireHeader, allowHosts and allowOrigins', () => {
  const withHeader = (lines: string[]) => head([...lines, 'X-Token-Sidecar: 1', 'Connection: close']);

  it('requireHeader is checked first: a request without it is refused, whatever else it carries', async () => {
    expectForbidden(await untouched(strict, head(['GET /api/whoami HTTP/1.1', `Host: 127.0.0.1:${port(strict)}`, 'Connection: close'])));
    expectForbidden(await untouched(strict, head(['GET /api/whoami HTTP/1.1', `Host: 127.0.0.1:${port(strict)}`, 'X-Token-Sidecar: 0', 'Connection: close'])));
    expectForbidden(await untouched(strict, head(['GET /api/whoami HTTP/1.1', 'Host: attacker.example', 'Connection: close'])));
    expect(strict.logs.filter((line) => line.event === 'request_forbidden').every((line) => line.check === 'require_header')).toBe(true);
    expect(rawStatus(await rawExchange(strict.url, withHeader(['GET /api/whoami HTTP/1.1', `Host: 127.0.0.1:${port(strict)}`])))).toBe(200);
  });

  it('a Host in allowHosts is accepted on any port; others still are not', async () => {
    expect(rawStatus(await rawExchange(strict.url, withHeader(['GET /api/whoami HTTP/1.1', 'Host: sidecar.internal:1234'])))).toBe(200);
    expectForbidden(await untouched(strict, withHeader(['GET /api/whoami HTTP/1.1', 'Host: sidecar.internal.attacker.example'])));
  });

  it('an Origin in allowOrigins gets its preflight answered by the sidecar (never forwarded), then its request through', async () => {
    const preflight = await untouched(strict, head(['OPTIONS /api/echo HTTP/1.1', `Host: localhost:${port(strict)}`, 'Origin: http://localhost:3000', 'Access-Control-Request-Method: PUT', 'Access-Control-Request-Headers: x-token-sidecar', 'Connection: close']));
    expect(rawStatus(preflight)).toBe(204);
    expect(preflight).toMatch(/\r\naccess-control-allow-origin: http:\/\/localhost:3000\r\n/);
    expect(preflight).toMatch(/\r\naccess-control-allow-headers: x-token-sidecar\r\n/);
    expect(rawStatus(await rawExchange(strict.url, withHeader(['PUT /api/echo HTTP/1.1', `Host: localhost:${port(strict)}`, 'Origin: http://localhost:3000', 'Sec-Fetch-Site: same-site', 'Content-Length: 0'])))).toBe(200);
    expectForbidden(await untouched(strict, withHeader(['PUT /api/echo HTTP/1.1', `Host: localhost:${port(strict)}`, 'Origin: http://localhost:3001', 'Content-Length: 0'])));
  });
});

describe('a listener off loopback', () => {
  const route = () => routeFor(api);

  it.each([
    ['listen: 0.0.0.0', { listen: '0.0.0.0:0' }, 'listen: 0.0.0.0 is not loopback'],
    ['listen: [::]', { listen: '[::]:0' }, 'listen: :: is not loopback'],
    ['a route\'s listen: 0.0.0.0', { own: true }, 'routes.api.listen: 0.0.0.0 is not loopback'],
  ])('%s without guard.allowNonLoopback is a config error (exit 2)', async (_name, shape, message) => {
    const config = 'own' in shape ? { routes: { api: { ...route(), listen: '0.0.0.0:0' } } } : { ...shape, routes: { api: route() } };
    const { code, stderr } = await runCli(['check', '--config', await writeConfig(config)]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).toContain('guard.allowNonLoopback: true');
  });

  it('with guard.allowNonLoopback: true it starts, and a warn line says what is exposed', async () => {
    const exposed = cleanup.add(
      await startSidecar(fastConfig({ api: route(), own: { ...route(), listen: '0.0.0.0:0' } }, { ...LAZY, listen: '0.0.0.0:0', guard: { allowNonLoopback: true, allowHosts: ['sidecar.internal'] } })),
      (started) => started.stop(),
    );
    const warnings = exposed.logs.filter((line) => line.event === 'listener_exposed');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 'warn', listener: 'listen', routes: ['api'] }),
      expect.objectContaining({ level: 'warn', listener: 'routes.own.listen', routes: ['own'] }),
    ]);
    expect(String(warnings[0]?.msg)).toContain('whatever reaches it can spend the tokens of api');
    // The address it took, not the configured port 0: what an operator needs to find it.
    expect(warnings.map((line) => line.bound)).toEqual([`0.0.0.0:${new URL(exposed.url).port}`, exposed.routeUrls.own?.replace('http://', '')]);
    // Reached by another name than loopback: only a name in allowHosts is served.
    const url = `http://127.0.0.1:${new URL(exposed.url).port}`;
    expect(rawStatus(await rawExchange(url, head(['GET /api/whoami HTTP/1.1', 'Host: 10.1.2.3:8080', 'Connection: close'])))).toBe(403);
    expect(rawStatus(await rawExchange(url, head(['GET /api/whoami HTTP/1.1', 'Host: sidecar.internal:8080', 'Connection: close'])))).toBe(200);
  });

  it('a loopback listener gives no such warning', () => {
    expect(open.logs.some((line) => line.event === 'listener_exposed')).toBe(false);
  });
});
