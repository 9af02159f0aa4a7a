// The in-process store: chains (grants with a refresh token) are never dropped, access-only grants
// are bounded, least recently used first, so many tenants cost memory per cache entry, not per tenant.
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/token/store.js';

const accessOnly = (generation: number) => ({ accessToken: `at-${generation}`, expiresAt: 1, generation, updatedAt: 0 });
const chain = (generation: number) => ({ refreshToken: `rt-${generation}`, accessToken: `at-${generation}`, generation, updatedAt: 0 });

describe('MemoryStore', () => {
  it('keeps at most maxAccessOnly access-only grants, dropping the least recently used', async () => {
    const store = new MemoryStore({ maxAccessOnly: 100 });
    for (let tenant = 0; tenant < 1_000; tenant += 1) {
      await store.set(`tenant-${tenant}`, accessOnly(1));
      if (tenant >= 1) await store.get('tenant-0'); // tenant-0 stays warm
    }
    expect(store.size).toBe(100);
    expect(await store.get('tenant-0')).toMatchObject({ accessToken: 'at-1' });
    expect(await store.get('tenant-999')).toMatchObject({ accessToken: 'at-1' });
    expect(await store.get('tenant-1')).toBeUndefined();
  });

  it('never drops a chain: a rotated refresh token outlives any number of access-only grants', async () => {
    const store = new MemoryStore({ maxAccessOnly: 2 });
    await store.set('light', chain(1));
    await store.set('light', chain(2));
    for (let tenant = 0; tenant < 50; tenant += 1) await store.set(`cobee-${tenant}`, accessOnly(1));
    expect(await store.get('light')).toMatchObject({ refreshToken: 'rt-2' });
    expect(store.size).toBe(3);
    // A key that once held a chain stays a chain, even if a later grant carries no refresh token.
    await store.set('light', { accessToken: 'at-3', generation: 3, updatedAt: 0 });
    for (let tenant = 50; tenant < 60; tenant += 1) await store.set(`cobee-${tenant}`, accessOnly(1));
    expect(await store.get('light')).toMatchObject({ accessToken: 'at-3' });
  });

  it('applies the compare-and-set rule to both kinds', async () => {
    const store = new MemoryStore({ maxAccessOnly: 10 });
    await store.set('a', accessOnly(2));
    expect(await store.set('a', accessOnly(1))).toEqual({ written: false, current: accessOnly(2) });
    await store.set('b', chain(5));
    expect(await store.set('b', chain(5))).toEqual({ written: false, current: chain(5) });
  });
});
