// The issue "Never lose a grant", in process: each test is named after what broke. Light's
// emulator revokes the whole family on any replay and counts replays, so every test counts them.
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS } from '../../src/emulators/index.js';
import { MemoryStore, type StoredGrant, type TokenStore, type WriteResult } from '../../src/token/store.js';
import { MAX_TIMER_MS } from '../../src/token/timer.js';
import { authorizationOf, errorOf, settled, setupProvider } from '../support/provider-kit.js';
import { metricValue } from '../support/sidecar.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A memory store a test can break: reads or writes that fail, a wipe (a restart without persistence), a held write. */
class FaultyStore implements TokenStore {
  inner = new MemoryStore();
  failGets = 0;
  failSets = 0;
  gets = 0;
  writes: StoredGrant[] = [];
  hold: Promise<void> | undefined;

  async get(key: string): Promise<StoredGrant | undefined> {
    this.gets += 1;
    if (this.failGets > 0) {
      this.failGets -= 1;
      throw new Error('connection reset');
    }
    return this.inner.get(key);
  }

  async set(key: string, grant: StoredGrant): Promise<WriteResult> {
    if (this.failSets > 0) {
      this.failSets -= 1;
      throw new Error('READONLY You can\'t write against a read only replica');
    }
    await this.hold;
    this.writes.push(grant);
    return this.inner.set(key, grant);
  }

  wipe(): void {
    this.inner = new MemoryStore();
  }

  async close(): Promise<void> {}
}

const light = (store: TokenStore, options: { lifetimeSeconds?: number; refresh?: Record<string, unknown>; maxEntries?: number } = {}) =>
  setupProvider('light', cleanups, { lifetimeSeconds: options.lifetimeSeconds ?? 100, store, ...(options.refresh ? { refresh: options.refresh } : {}), ...(options.maxEntries ? { maxEntries: options.maxEntries } : {}) });

/** Moves past the refresh-ahead point (random() = 1: at 75% of a 100 s life) and waits for the refresh. */
async function rotate(setup: Awaited<ReturnType<typeof light>>, ms = 80_000): Promise<void> {
  setup.clock.advance(ms);
  await settled(setup.provider);
}

describe('a refresh token is spent at most once', () => {
  it('a store whose set resolves only when released: the new token is not handed out before its grant is stored', async () => {
    const store = new FaultyStore();
    let release: () => void = () => undefined;
    store.hold = new Promise<void>((resolve) => (release = resolve));
    const { provider, emulator } = await light(store);
    let handedOut = false;
    const pending = authorizationOf(provider, 'light').then((authorization) => {
      handedOut = true;
      return authorization;
    });
    // The token endpoint has answered (the refresh token rotated), the store has not: nothing is used yet.
    await expect.poll(() => emulator.stats.issuedTokens).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handedOut).toBe(false);
    expect(store.writes).toHaveLength(0);
    release();
    const { header } = await pending;
    expect(store.writes).toHaveLength(1);
    expect(header).toBe(`Bearer ${store.writes[0]?.accessToken}`);
  });

  it('a rotation whose write is held: requests keep the old token until the new grant is stored', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    const first = await authorizationOf(setup.provider, 'light');
    let release: () => void = () => undefined;
    store.hold = new Promise<void>((resolve) => (release = resolve));
    setup.clock.advance(80_000);
    await expect.poll(() => setup.emulator.stats.issuedTokens).toBe(2);
    for (let index = 0; index < 5; index += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      expect((await authorizationOf(setup.provider, 'light')).header).toBe(first.header);
    }
    release();
    await settled(setup.provider);
    const second = await authorizationOf(setup.provider, 'light');
    expect(second.header).not.toBe(first.header);
    expect(second.header).toBe(`Bearer ${store.writes.at(-1)?.accessToken}`);
  });

  it('a store read error inside the lock sends nothing and never falls back to the dead bootstrap token', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    await authorizationOf(setup.provider, 'light');
    await rotate(setup);
    const before = setup.emulator.stats.tokenRequests;
    store.failGets = 1;
    await rotate(setup);
    // The read failed: no token request, a transient failure, the current token still served.
    expect(setup.emulator.stats.tokenRequests).toBe(before);
    expect(setup.provider.states()[0]).toMatchObject({ state: 'failing', reason: 'store_read' });
    expect((await authorizationOf(setup.provider, 'light')).header).toMatch(/^Bearer /);
    await rotate(setup, 2_000);
    expect(setup.provider.states()[0]?.state).toBe('valid');
    for (let round = 0; round < 3; round += 1) await rotate(setup);
    expect(setup.emulator.stats.refreshReplays).toBe(0);
    expect(setup.provider.states()[0]?.state).toBe('valid');
  });

  it('a store that restarts empty is re-seeded from the chain the sidecar holds: no replay of the bootstrap token', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    await authorizationOf(setup.provider, 'light');
    for (let round = 0; round < 3; round += 1) await rotate(setup);
    const chain = store.writes.at(-1) as StoredGrant;
    store.wipe();
    expect(await store.get('anything')).toBeUndefined();
    for (let round = 0; round < 3; round += 1) await rotate(setup);
    expect(setup.emulator.stats.refreshReplays).toBe(0);
    expect(setup.provider.states()[0]?.state).toBe('valid');
    expect(setup.events.some((line) => line.event === 'store_reseeded')).toBe(true);
    // The chain went on from the grant the store had lost, one generation at a time.
    expect(store.writes.at(-1)?.generation).toBeGreaterThan(chain.generation);
  });

  it('a write failure during a rotation is kept, shown, retried until it lands, and the next rotation spends the new token', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    await authorizationOf(setup.provider, 'light');
    store.failSets = 2;
    await rotate(setup);
    expect(setup.provider.states()[0]).toMatchObject({ state: 'valid', unsaved: true });
    expect(metricValue(await setup.metrics.registry.metrics(), 'token_sidecar_grant_unsaved', { route: 'light' })).toBe(1);
    expect(metricValue(await setup.metrics.registry.metrics(), 'token_sidecar_store_errors_total', { route: 'light', operation: 'set' })).toBe(1);
    // Its own schedule (backoffInitial 1 s doubling), not the next refresh.
    setup.clock.advance(1_000);
    await expect.poll(() => store.failSets).toBe(0);
    expect(setup.provider.states()[0]?.unsaved).toBe(true);
    setup.clock.advance(2_000);
    await expect.poll(() => store.writes.length).toBe(2);
    expect(setup.provider.states()[0]?.unsaved).toBeUndefined();
    expect(metricValue(await setup.metrics.registry.metrics(), 'token_sidecar_grant_unsaved', { route: 'light' })).toBe(0);
    for (let round = 0; round < 3; round += 1) await rotate(setup);
    expect(setup.emulator.stats.refreshReplays).toBe(0);
    expect(new Set(store.writes.map((grant) => grant.refreshToken)).size).toBe(store.writes.length);
  });

  it('a stale write is refused by the compare-and-set and the newer stored grant adopted', async () => {
    const store = new MemoryStore();
    await store.set('k', { refreshToken: 'newer', generation: 5, updatedAt: 1 });
    expect(await store.set('k', { refreshToken: 'older', generation: 5, updatedAt: 2 })).toEqual({ written: false, current: { refreshToken: 'newer', generation: 5, updatedAt: 1 } });
    expect(await store.set('k', { refreshToken: 'next', generation: 6, updatedAt: 3 })).toEqual({ written: true });
  });
});

describe('eviction', () => {
  it('cache.maxEntries 1 with two rotating credentials under load: no replay, no failed request', async () => {
    const setup = await setupProvider('light', cleanups, {
      lifetimeSeconds: 100,
      maxEntries: 1,
      extraRoutes: (emulator) => ({ other: { provider: 'light', upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl.replace('127.0.0.1', 'localhost'), credentials: { ...DEMO_CLIENTS.light, refreshToken: emulator.issueRefreshToken() } } }),
    });
    let failures = 0;
    for (let step = 0; step < 40; step += 1) {
      const answers = await Promise.allSettled(Array.from({ length: 20 }, (_, index) => authorizationOf(setup.provider, index % 2 === 0 ? 'light' : 'other')));
      failures += answers.filter((answer) => answer.status === 'rejected').length;
      setup.clock.advance(9_000);
    }
    await settled(setup.provider);
    expect(failures).toBe(0);
    expect(setup.emulator.stats.refreshReplays).toBe(0);
    expect(setup.emulator.stats.byGrant.refresh_token).toBeGreaterThan(4);
  });
});

describe('any lifetime gives a sane schedule', () => {
  it('an expires_in of a year: one token request, timers re-armed past 2^31-1 ms, the lifetime capped by refresh.maxLifetime', async () => {
    const setup = await setupProvider('cobee', cleanups, { lifetimeSeconds: 365 * 86_400, refresh: { maxLifetime: '1440h' } });
    await authorizationOf(setup.provider, 'cobee');
    const expiry = metricValue(await setup.metrics.registry.metrics(), 'token_sidecar_token_expiry_timestamp_seconds', { route: 'cobee' });
    expect(expiry * 1000 - setup.clock.now()).toBe(60 * 86_400_000);
    // The refresh is due 45 days out (75% of the capped 60 days), further than one timer holds.
    expect((setup.clock.nextTimerAt() as number) - setup.clock.now()).toBeLessThanOrEqual(MAX_TIMER_MS);
    setup.clock.advance(10 * 86_400_000);
    await settled(setup.provider);
    expect(setup.emulator.stats.tokenRequests).toBe(1);
    setup.clock.advance(36 * 86_400_000);
    await settled(setup.provider);
    expect(setup.emulator.stats.tokenRequests).toBe(2);
  });

  it('expiry counts from when the token request started, not when its answer arrived', async () => {
    const setup = await setupProvider('cobee', cleanups, { lifetimeSeconds: 100, requestWait: 60_000 });
    setup.emulator.injectTokenFault({ fault: { kind: 'delay', ms: 300 }, times: 1 });
    const started = setup.clock.now();
    const pending = authorizationOf(setup.provider, 'cobee');
    await expect.poll(() => setup.emulator.stats.tokenRequests).toBe(1);
    setup.clock.advance(5_000);
    await pending;
    const expiry = metricValue(await setup.metrics.registry.metrics(), 'token_sidecar_token_expiry_timestamp_seconds', { route: 'cobee' });
    expect(expiry * 1000).toBe(started + 100_000);
  });
});

describe('never throws', () => {
  it('an exception inside a refresh (a store that throws synchronously) becomes a classified failure', async () => {
    const throwing: TokenStore = {
      get: () => {
        throw new TypeError('boom');
      },
      set: async () => ({ written: true }),
      close: async () => undefined,
    };
    const setup = await setupProvider('cobee', cleanups, { store: throwing });
    const error = await errorOf(authorizationOf(setup.provider, 'cobee'));
    expect(error.code).toBe('token_unavailable');
    expect(setup.provider.states()[0]).toMatchObject({ state: 'failing' });
  });
});

describe('shutdown loses nothing', () => {
  it('stop() awaits a rotation in flight and its grant is stored before it resolves', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    await authorizationOf(setup.provider, 'light');
    setup.emulator.injectTokenFault({ fault: { kind: 'delay', ms: 300 }, times: 1 });
    setup.clock.advance(80_000);
    await expect.poll(() => setup.emulator.stats.tokenRequests).toBe(2);
    await setup.provider.stop(5_000);
    expect(store.writes).toHaveLength(2);
    expect(setup.emulator.stats.issuedTokens).toBe(2);
  });

  it('stop() gives an unsaved grant a last write', async () => {
    const store = new FaultyStore();
    const setup = await light(store);
    await authorizationOf(setup.provider, 'light');
    store.failSets = 1;
    await rotate(setup);
    expect(setup.provider.states()[0]?.unsaved).toBe(true);
    await setup.provider.stop(1_000);
    expect(store.writes).toHaveLength(2);
  });
});
