// The request guard's table (SPEC §2 `guard`): which browser-shaped or rebinding requests are
// refused, by which check, in which order; what a listed Origin and a listed Host open.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createRequestGuard } from '../../src/proxy/request-guard.js';

const ROUTES = { covver: { provider: 'covver', upstream: 'https://api.covver.io', credentials: { clientId: 'a', clientSecret: 'b' } } };
const guardOf = (guard: Record<string, unknown> = {}) => createRequestGuard(validateConfig({ guard, routes: ROUTES }).guard);

const open = guardOf();
const strict = guardOf({ requireHeader: 'X-Token-Sidecar: 1', allowHosts: ['sidecar.internal', '10.0.0.5', '::ffff:a00:6'], allowOrigins: ['http://localhost:3000'] });

type Headers = Record<string, string>;
const LOCAL = { host: '127.0.0.1:8080' };

describe('the request guard', () => {
  it.each<[string, string, Headers, string]>([
    ['loopback IPv4', 'GET', LOCAL, 'pass'],
    ['another 127/8 address', 'GET', { host: '127.1.2.3:8080' }, 'pass'],
    ['localhost without port', 'GET', { host: 'localhost' }, 'pass'],
    ['LOCALHOST. with a trailing dot', 'GET', { host: 'LOCALHOST.:8080' }, 'pass'],
    ['a *.localhost name', 'GET', { host: 'app.localhost:8080' }, 'pass'],
    ['IPv6 loopback', 'GET', { host: '[::1]:8080' }, 'pass'],
    ['a DNS-rebinding Host', 'GET', { host: 'attacker.example:8080' }, 'host'],
    ['a name that only starts with localhost', 'GET', { host: 'localhost.attacker.example' }, 'host'],
    ['the machine\'s LAN address', 'GET', { host: '192.168.1.20:8080' }, 'host'],
    ['0.0.0.0', 'GET', { host: '0.0.0.0:8080' }, 'host'],
    ['no Host (HTTP/1.0)', 'GET', {}, 'host'],
    ['a cross-site form POST', 'POST', { ...LOCAL, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 'origin'],
    ['an Origin of null (sandboxed page, file://)', 'POST', { ...LOCAL, origin: 'null' }, 'origin'],
    ['a same-machine page on another port', 'GET', { ...LOCAL, origin: 'http://localhost:3000' }, 'origin'],
    ['a cross-site read without Origin (no-cors GET)', 'GET', { ...LOCAL, 'sec-fetch-site': 'cross-site' }, 'sec_fetch_site'],
    ['a same-site request without Origin', 'GET', { ...LOCAL, 'sec-fetch-site': 'same-site' }, 'sec_fetch_site'],
    ['Sec-Fetch-Site: same-origin', 'GET', { ...LOCAL, 'sec-fetch-site': 'same-origin' }, 'pass'],
    ['Sec-Fetch-Site: none (typed in the address bar)', 'GET', { ...LOCAL, 'sec-fetch-site': 'none' }, 'pass'],
    ['a CORS preflight', 'OPTIONS', { ...LOCAL, origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'preflight'],
    ['a preflight with a rebinding Host', 'OPTIONS', { host: 'attacker.example', origin: 'http://attacker.example', 'access-control-request-method': 'GET' }, 'host'],
    ['a plain OPTIONS from the app', 'OPTIONS', LOCAL, 'pass'],
  ])('no guard config: %s → %s', (_name, method, headers, expected) => {
    const verdict = open.check(method, headers);
    expect(verdict.kind === 'refuse' ? verdict.check : verdict.kind).toBe(expected);
    if (verdict.kind === 'refuse') expect(verdict.error).toMatchObject({ code: 'forbidden_request', status: 403 });
  });

  it.each<[string, string, Headers, string]>([
    ['the required header', 'GET', { ...LOCAL, 'x-token-sidecar': '1' }, 'pass'],
    ['no required header', 'GET', LOCAL, 'require_header'],
    ['a different value', 'GET', { ...LOCAL, 'x-token-sidecar': '2' }, 'require_header'],
    ['the header twice (joined)', 'GET', { ...LOCAL, 'x-token-sidecar': '1, 1' }, 'require_header'],
    ['requireHeader first: missing header and a rebinding Host', 'GET', { host: 'attacker.example' }, 'require_header'],
    ['a listed Host, any port', 'GET', { host: 'SIDECAR.internal:9999', 'x-token-sidecar': '1' }, 'pass'],
    ['a listed IPv4 address', 'GET', { host: '10.0.0.5:8080', 'x-token-sidecar': '1' }, 'pass'],
    ['a listed IPv6 address', 'GET', { host: '[::ffff:a00:6]:8080', 'x-token-sidecar': '1' }, 'pass'],
    ['an unlisted address', 'GET', { host: '10.0.0.6:8080', 'x-token-sidecar': '1' }, 'host'],
    ['a listed Origin (same-site localhost page)', 'POST', { ...LOCAL, 'x-token-sidecar': '1', origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' }, 'pass'],
    ['a listed Origin, cross-site', 'POST', { ...LOCAL, 'x-token-sidecar': '1', origin: 'http://localhost:3000', 'sec-fetch-site': 'cross-site' }, 'pass'],
    ['an unlisted Origin with the header', 'POST', { ...LOCAL, 'x-token-sidecar': '1', origin: 'http://localhost:3001' }, 'origin'],
    ['a listed Origin\'s preflight (no required header: a browser cannot add it)', 'OPTIONS', { ...LOCAL, origin: 'http://localhost:3000', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token-sidecar' }, 'preflight'],
    ['an unlisted Origin\'s preflight', 'OPTIONS', { ...LOCAL, origin: 'http://localhost:3001', 'access-control-request-method': 'PUT' }, 'preflight'],
  ])('requireHeader, allowHosts, allowOrigins: %s → %s', (_name, method, headers, expected) => {
    const verdict = strict.check(method, headers);
    expect(verdict.kind === 'refuse' ? verdict.check : verdict.kind).toBe(expected);
  });

  it('answers a listed Origin\'s preflight itself, for what it asked', () => {
    const verdict = strict.check('OPTIONS', { ...LOCAL, origin: 'http://localhost:3000', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token-sidecar, content-type' });
    expect(verdict).toEqual({
      kind: 'preflight',
      headers: {
        'access-control-allow-origin': 'http://localhost:3000',
        'access-control-allow-methods': 'PUT',
        'access-control-allow-headers': 'x-token-sidecar, content-type',
        'access-control-max-age': '600',
        vary: 'origin',
        'content-length': '0',
      },
    });
  });
});

describe('guard config errors name the key', () => {
  it.each([
    [{ requireHeader: 'no-colon' }, 'guard.requireHeader'],
    [{ requireHeader: 'x-a:' }, 'guard.requireHeader'],
    [{ requireHeader: 'bad name: 1' }, 'guard.requireHeader'],
    [{ allowHosts: ['host:8080'] }, 'guard.allowHosts.0'],
    [{ allowHosts: ['http://host'] }, 'guard.allowHosts.0'],
    [{ allowHosts: ['10.0.0.1:8080'] }, 'guard.allowHosts.0'],
    [{ allowOrigins: ['http://localhost:3000/app'] }, 'guard.allowOrigins.0'],
    [{ allowOrigins: ['localhost:3000'] }, 'guard.allowOrigins.0'],
    [{ allowOrigins: ['ftp://localhost'] }, 'guard.allowOrigins.0'],
    [{ allowNonLoopback: 'yes' }, 'guard.allowNonLoopback'],
    [{ allowHost: [] }, 'guard.allowHost'],
  ])('%j → %s', (guard, key) => {
    expect(() => validateConfig({ guard, routes: ROUTES })).toThrow(key);
  });

  it.each([
    [{ listen: '0.0.0.0:8080' }, 'listen: 0.0.0.0 is not loopback'],
    [{ listen: '[::]:8080' }, 'listen: :: is not loopback'],
    [{ listen: '192.168.1.20:8080' }, 'listen: 192.168.1.20 is not loopback'],
    [{ routes: { covver: { ...ROUTES.covver, listen: '0.0.0.0:8081' } } }, 'routes.covver.listen: 0.0.0.0 is not loopback'],
  ])('a listener off loopback without guard.allowNonLoopback: %j', (config, message) => {
    expect(() => validateConfig({ routes: ROUTES, ...config })).toThrow(message);
    expect(() => validateConfig({ routes: ROUTES, ...config })).toThrow('guard.allowNonLoopback');
    expect(() => validateConfig({ routes: ROUTES, ...config, guard: { allowNonLoopback: true } })).not.toThrow();
  });

  it.each(['127.0.0.1:8080', '127.0.0.2:8080', 'localhost:8080', '[::1]:8080'])('%s is loopback', (listen) => {
    expect(() => validateConfig({ routes: ROUTES, listen })).not.toThrow();
  });

  it('the admin listener may leave loopback (no token there)', () => {
    expect(() => validateConfig({ routes: ROUTES, admin: '0.0.0.0:9464' })).not.toThrow();
  });
});
