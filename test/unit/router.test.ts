import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { SidecarError } from '../../src/errors.js';
import { createRouter } from '../../src/proxy/router.js';

const config = validateConfig({
  routes: {
    covver: { provider: 'covver', upstream: 'https://api.covver.io', credentials: { clientId: 'a', clientSecret: 'b' } },
    cobee: { provider: 'cobee', upstream: 'https://partners-api.cobee.io/api/v3/', credentials: { clientId: 'a', clientSecret: 'b' } },
    own: { provider: 'cobee', upstream: 'https://partners-api.cobee.io/api/v3', listen: '127.0.0.1:0', credentials: { clientId: 'a', clientSecret: 'b' } },
  },
});
const router = createRouter(config.routes);
const own = config.routes.find((route) => route.name === 'own');

describe('router', () => {
  it.each([
    ['/covver/people?x=1', 'covver', '/people?x=1'],
    ['/covver', 'covver', '/'],
    ['/covver/', 'covver', '/'],
    ['/cobee/employees', 'cobee', '/api/v3/employees'],
    ['/cobee', 'cobee', '/api/v3'],
    ['/cobee/a%20b/c?q=%2F', 'cobee', '/api/v3/a%20b/c?q=%2F'],
    ['/covver/..a/b.', 'covver', '/..a/b.'],
  ])('%s → route %s, upstream path %s', (url, route, path) => {
    const match = router.match(url);
    expect(match.route.name).toBe(route);
    expect(match.upstreamPath).toBe(path);
  });

  it('maps every path unchanged on a route listener, joined to the upstream base path', () => {
    expect(router.match('/employees?x=1', own).upstreamPath).toBe('/api/v3/employees?x=1');
    expect(router.match('/', own).upstreamPath).toBe('/api/v3');
  });

  it.each([
    ['/covver/../cobee/x', 'bad_request'],
    ['/covver/%2E%2e/x', 'bad_request'],
    ['/covver/a%2fb', 'bad_request'],
    ['/covver/a%5Cb', 'bad_request'],
    ['/covver/a%00', 'bad_request'],
    ['/covver/%', 'bad_request'],
    ['/covver/%g1', 'bad_request'],
    ['http://api.covver.io/covver/x', 'bad_request'],
    ['*', 'bad_request'],
    ['/Covver/x', 'no_route'],
    ['/cov%76er/x', 'no_route'],
    ['/nope', 'no_route'],
  ])('%s → %s', (url, code) => {
    try {
      router.match(url);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SidecarError);
      expect((error as SidecarError).code).toBe(code);
    }
  });

  it('refuses dot segments on a route listener too', () => {
    expect(() => router.match('/../x', own)).toThrow(SidecarError);
  });
});
