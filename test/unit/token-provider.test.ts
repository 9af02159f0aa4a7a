import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, type EmulatedProvider } from '../../src/emulators/index.js';
import { SidecarError } from '../../src/errors.js';
import { MemoryStore, type StoredGrant, type TokenStore } from '../../src/token/store.js';
import { authorizationOf, errorOf, settled, setupProvider, type ProviderOptions } from '../support/provider-kit.js';
import { metricValue } from '../support/sidecar.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const setup = (kind: EmulatedProvider, options: ProviderOptions = {}) => setupProvider(kind, cleanups, options);

describe('TokenProvider', () => {
  it('refreshes ahead of expiry in the background: requests keep hitting a valid token', async () => {
    const { provider, emulator, clock } = await setup('cobee', { lifetimeSeconds: 100 });
    const first = await authorizationOf(provider, 'cobee');
    expect(emulator.stats.tokenRequests).toBe(1);
    // random() = 1: refresh when 0.2 * 1.25 = 25% of the lifetime is left.
    clock.advance(74_000);
    expect(emulator.stats.tokenRequests).toBe(1);
    expect((await authorizationOf(provider, 'cobee')).header).toBe(first.header);
    clock.advance(1_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(2);
    const second = await authorizationOf(provider, 'cobee');
    expect(second.header).not.toBe(first.header);
  });

  it('serves the current token while refresh fails, and never an expired one', async () => {
    const { provider, emulator, clock } = await setup('cobee', { lifetimeSeconds: 100 });
    const first = await authorizationOf(provider, 'cobee');
    emulator.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    clock.advance(80_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBeGreaterThan(1);
    // Still valid: still injected.
    clock.advance(14_000);
    await settled(provider);
    expect((await authorizationOf(provider, 'cobee')).header).toBe(first.header);
    // 5% of the lifetime (at most 1 s) before expiry, it is no longer injected.
    clock.advance(5_100);
    await settled(provider);
    const error = await errorOf(authorizationOf(provider, 'cobee'));
    expect(error).toBeInstanceOf(SidecarError);
    expect(error.code).toBe('token_unavailable');
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('backs off exponentially on transient failures instead of fetching per request', async () => {
    const { provider, emulator, clock } = await setup('cobee');
    emulator.injectTokenFault({ fault: { kind: 'status', status: 503 } });
    expect((await errorOf(authorizationOf(provider, 'cobee'))).code).toBe('token_unavailable');
    expect(emulator.stats.tokenRequests).toBe(1);
    // Requests during the backoff window fail at once without a token request.
    for (let index = 0; index < 20; index += 1) expect((await errorOf(authorizationOf(provider, 'cobee'))).code).toBe('token_unavailable');
    expect(emulator.stats.tokenRequests).toBe(1);
    // random() = 1: retries 1, 2, 4, 8, 16, 32 (the cap), 32 s apart: at t = 1, 3, 7, 15, 31, 63, 95 s.
    const seen: number[] = [];
    for (let second = 0; second < 95; second += 1) {
      clock.advance(1_000);
      await settled(provider);
      seen.push(emulator.stats.tokenRequests);
    }
    expect(seen[0]).toBe(2);
    expect(seen.slice(0, 8)).toEqual([2, 2, 3, 3, 3, 3, 4, 4]);
    expect(seen.at(-1)).toBe(8);
    emulator.injectTokenFault(undefined);
    clock.advance(32_000);
    await settled(provider);
    expect((await authorizationOf(provider, 'cobee')).header).toMatch(/^Bearer /);
  });

  it("honours a 429's Retry-After", async () => {
    const { provider, emulator, clock } = await setup('cobee');
    emulator.injectTokenFault({ fault: { kind: 'status', status: 429, headers: { 'retry-after': '30' } }, times: 1 });
    const error = await errorOf(authorizationOf(provider, 'cobee'));
    expect(error.code).toBe('token_unavailable');
    expect(error.retryAfterSeconds).toBeCloseTo(30, 0);
    clock.advance(29_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(1);
    clock.advance(1_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(2);
    expect((await authorizationOf(provider, 'cobee')).header).toMatch(/^Bearer /);
  });

  it('caps a Retry-After at refresh.rejectedRetry: a transient failure never waits longer than a terminal one', async () => {
    const { provider, emulator, clock } = await setup('cobee', { refresh: { rejectedRetry: '2m' } });
    emulator.injectTokenFault({ fault: { kind: 'status', status: 429, headers: { 'retry-after': '86400' } }, times: 1 });
    expect((await errorOf(authorizationOf(provider, 'cobee'))).retryAfterSeconds).toBeCloseTo(120, 0);
    clock.advance(120_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(2);
    expect((await authorizationOf(provider, 'cobee')).header).toMatch(/^Bearer /);
  });

  it('treats rejected credentials as terminal: no hammering, slow retries', async () => {
    const { provider, emulator, clock, metrics } = await setup('covver');
    emulator.injectTokenFault({ fault: { kind: 'status', status: 401, body: '{"message":"Invalid client credentials","errorCode":"INVALID_CLIENT_CREDENTIALS","error":"Unauthorized","statusCode":401}' } });
    expect((await errorOf(authorizationOf(provider, 'covver'))).code).toBe('token_rejected');
    for (let index = 0; index < 10; index += 1) expect((await errorOf(authorizationOf(provider, 'covver'))).code).toBe('token_rejected');
    expect(emulator.stats.tokenRequests).toBe(1);
    expect(provider.states()[0]).toMatchObject({ route: 'covver', state: 'rejected', reason: 'INVALID_CLIENT_CREDENTIALS' });
    clock.advance(299_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(1);
    emulator.injectTokenFault(undefined);
    clock.advance(1_000);
    await settled(provider);
    expect(emulator.stats.tokenRequests).toBe(2);
    expect((await authorizationOf(provider, 'covver')).header).toMatch(/^Bearer /);
    expect(metricValue(await metrics.registry.metrics(), 'token_sidecar_token_refresh_total', { route: 'covver', result: 'rejected' })).toBe(1);
  });

  it('Covver falls back to client credentials when the refresh grant is rejected', async () => {
    const { provider, emulator, clock } = await setup('covver', { lifetimeSeconds: 100 });
    await authorizationOf(provider, 'covver');
    // The next refresh uses the refresh token; make that one fail with Covver's 401 shape.
    emulator.injectTokenFault({ fault: { kind: 'status', status: 401, body: '{"message":"bad","errorCode":"INVALID_REFRESH_TOKEN","error":"Unauthorized","statusCode":401}' }, times: 1 });
    clock.advance(75_000);
    await settled(provider);
    expect(emulator.stats.byGrant.client_credentials).toBe(2);
    expect(provider.states()[0]?.state).toBe('valid');
  });

  it('stores a rotated refresh token before the new access token is used', async () => {
    const writes: StoredGrant[] = [];
    const memory = new MemoryStore();
    const store: TokenStore = {
      get: (key) => memory.get(key),
      set: async (key, grant) => {
        writes.push(grant);
        return memory.set(key, grant);
      },
      close: () => memory.close(),
    };
    const { provider, emulator, clock } = await setup('light', { lifetimeSeconds: 100, store });
    for (let round = 0; round < 5; round += 1) {
      const { header } = await authorizationOf(provider, 'light');
      // The token handed out is the one whose grant (with its rotated refresh token) is already stored.
      expect(`Bearer ${writes.at(-1)?.accessToken}`).toBe(header);
      expect(writes.at(-1)?.refreshToken).toBeDefined();
      clock.advance(80_000);
      await settled(provider);
    }
    const refreshTokens = new Set(writes.map((grant) => grant.refreshToken));
    expect(refreshTokens.size).toBe(writes.length);
    expect(emulator.stats.apiUnauthorized).toBe(0);
    expect(provider.states()[0]?.state).toBe('valid');
  });

  it('keeps a rotated refresh token in memory when the store cannot write it, and never reuses the old one', async () => {
    const failing: TokenStore = { get: async () => undefined, set: async () => Promise.reject(new Error('disk full')), close: async () => undefined };
    const { provider, clock } = await setup('light', { lifetimeSeconds: 100, store: failing });
    await authorizationOf(provider, 'light');
    for (let round = 0; round < 3; round += 1) {
      clock.advance(80_000);
      await settled(provider);
      // Light revokes the family on reuse: a reused refresh token would make this fail.
      expect(provider.states()[0]?.state).toBe('valid');
    }
  });

  it('an upstream 401 invalidates only the current token: a burst of 401s costs one refresh', async () => {
    const { provider, emulator } = await setup('cobee');
    const used = await authorizationOf(provider, 'cobee');
    // The first 401 drops the token; the other 49 carried the same, already dropped token.
    for (let index = 0; index < 50; index += 1) expect(provider.unauthorized('cobee', used.tokenId)).toBe(true);
    const fresh = await Promise.all(Array.from({ length: 50 }, () => authorizationOf(provider, 'cobee')));
    expect(new Set(fresh.map((authorization) => authorization.header)).size).toBe(1);
    expect(fresh[0]?.header).not.toBe(used.header);
    expect(emulator.stats.tokenRequests).toBe(2);
  });

  const forgetful: TokenStore = { get: async () => undefined, set: async () => ({ written: true }), close: async () => undefined };
  it.each([
    ['a store that forgets', 1, 4, forgetful],
    ['a store that forgets', 2, 2, forgetful],
    // An evicted credential comes back with the still-valid access token its store kept.
    ['the memory store', 1, 2, undefined],
  ])('with %s and cache.maxEntries %i, alternating two credentials costs %i token requests', async (_name, maxEntries, expected, store) => {
    const { provider, emulator } = await setup('cobee', {
      maxEntries,
      ...(store ? { store } : {}),
      // Same server, another host name: a different credential (the token URL is part of its key).
      extraRoutes: (server) => ({ other: { provider: 'cobee', upstream: server.apiUrl, tokenUrl: server.tokenUrl.replace('127.0.0.1', 'localhost'), credentials: DEMO_CLIENTS.cobee } }),
    });
    for (const route of ['other', 'cobee', 'other', 'cobee']) expect((await authorizationOf(provider, route)).header).toMatch(/^Bearer /);
    expect(emulator.stats.tokenRequests).toBe(expected);
  });
});
