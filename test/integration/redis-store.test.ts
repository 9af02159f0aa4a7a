// The Redis store against a real redis-server: the compare-and-set, the lock (TTL, renewal,
// waking waiters by pub/sub) and what it does with a value that is not a grant.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { lockTtl } from '../../src/token/stores/index.js';
import { CorruptGrantError } from '../../src/token/stores/grant-json.js';
import { RedisStore } from '../../src/token/stores/redis.js';
import { startRedis, type RunningRedis } from '../support/redis.js';

let redis: RunningRedis;
let raw: Redis;
const stores: RedisStore[] = [];
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await raw.quit();
  await redis.close();
});

function store(lockTtlMs = 10_000, keyPrefix = `t${stores.length}:`): RedisStore {
  const created = new RedisStore({ url: redis.url, keyPrefix, lockTtlMs });
  stores.push(created);
  return created;
}

describe('RedisStore', () => {
  it('compare-and-set: a grant not newer than the stored one is refused, and the stored one returned', async () => {
    const a = store();
    expect(await a.set('k', { refreshToken: 'r1', generation: 1, updatedAt: 1 })).toEqual({ written: true });
    expect(await a.set('k', { refreshToken: 'stale', generation: 1, updatedAt: 2 })).toEqual({ written: false, current: { refreshToken: 'r1', generation: 1, updatedAt: 1 } });
    expect(await a.set('k', { refreshToken: 'r2', generation: 2, updatedAt: 3 })).toEqual({ written: true });
    expect((await a.get('k'))?.refreshToken).toBe('r2');
  });

  it('a value that is not a grant: get() says so (never "nothing stored"), and a writer with a chain replaces it', async () => {
    const a = store();
    await raw.set(`t${stores.length - 1}:k`, '{"refreshToken": 42');
    await expect(a.get('k')).rejects.toBeInstanceOf(CorruptGrantError);
    expect(await a.set('k', { refreshToken: 'r9', generation: 9, updatedAt: 1 })).toEqual({ written: true });
    expect((await a.get('k'))?.refreshToken).toBe('r9');
  });

  it('a held lock is renewed past its TTL while its holder works, and a waiter is woken when it is released', async () => {
    const [holder, waiter] = [store(300, 'lock:'), store(300, 'lock:')];
    const lease = await holder.lock('grant', 1_000);
    expect(lease).toBeDefined();
    // Three TTLs later the holder still has it: another process asking for a short while gets nothing.
    const deadline = Date.now() + 900;
    while (Date.now() < deadline) expect(await waiter.lock('grant', 50)).toBeUndefined();
    expect(lease?.lost).toBe(false);
    const waiting = waiter.lock('grant', 5_000);
    await lease?.release();
    const second = await waiting;
    expect(second).toBeDefined();
    await second?.release();
  });

  it('tells other replicas of a write (pub/sub), not the writer itself', async () => {
    const [a, b] = [new RedisStore({ url: redis.url, keyPrefix: 'shared:', lockTtlMs: 1_000 }), new RedisStore({ url: redis.url, keyPrefix: 'shared:', lockTtlMs: 1_000 })];
    stores.push(a, b);
    const seenByB: string[] = [];
    const seenByA: string[] = [];
    b.onChange((key) => seenByB.push(key));
    a.onChange((key) => seenByA.push(key));
    await expect.poll(async () => Number((await raw.call('PUBSUB', 'NUMSUB', 'shared:changes') as [string, number])[1])).toBe(2);
    await a.set('credential\u0000with\u0000nul', { generation: 1, updatedAt: 1 });
    await expect.poll(() => seenByB).toEqual(['credential\u0000with\u0000nul']);
    expect(seenByA).toEqual([]);
  });
});

describe('the lock TTL follows the token timeout', () => {
  it('defaults to timeouts.token x 2 attempts + 5 s, and a shorter store.lockTtl is a config error naming the key', () => {
    const config = validateConfig({ timeouts: { token: '30s' }, store: { type: 'redis', url: 'redis://127.0.0.1:6379' }, routes: { r: { provider: 'cobee', upstream: 'https://x.example', credentials: { clientId: 'a', clientSecret: 'b' } } } });
    expect(lockTtl(config)).toBe(65_000);
    expect(() => validateConfig({ timeouts: { token: '30s' }, store: { type: 'redis', url: 'redis://127.0.0.1:6379', lockTtl: '15s' }, routes: { r: { provider: 'cobee', upstream: 'https://x.example', credentials: { clientId: 'a', clientSecret: 'b' } } } })).toThrow(/store\.lockTtl: must be at least 65000 ms/);
  });
});
