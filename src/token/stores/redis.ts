import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { StoredGrant, TokenStore } from '../store.js';

/** Deletes the lock only if this process still holds it. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Grants in Redis, shared by every replica of an app (keys under `keyPrefix`). A per-grant lock
 * (SET NX PX) makes one replica at a time refresh a grant; the others then read its result.
 */
export class RedisStore implements TokenStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #lockMs: number;

  constructor(url: string, keyPrefix: string, options: { lockMs?: number } = {}) {
    this.#redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
    // Connection errors surface on the commands that fail; the client reconnects by itself.
    this.#redis.on('error', () => undefined);
    this.#prefix = keyPrefix;
    this.#lockMs = options.lockMs ?? 15_000;
  }

  #key(key: string): string {
    return `${this.#prefix}${key.replaceAll('\u0000', '|')}`;
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    const value = await this.#redis.get(this.#key(key));
    return value === null ? undefined : (JSON.parse(value) as StoredGrant);
  }

  async set(key: string, grant: StoredGrant): Promise<void> {
    await this.#redis.set(this.#key(key), JSON.stringify(grant));
  }

  async exclusive<T>(key: string, fetch: () => Promise<T>): Promise<T> {
    const lock = `${this.#key(key)}:lock`;
    const owner = randomUUID();
    const deadline = Date.now() + this.#lockMs;
    while ((await this.#redis.set(lock, owner, 'PX', this.#lockMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new Error('timed out waiting for another replica to finish refreshing this grant');
      await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
    }
    try {
      return await fetch();
    } finally {
      await this.#redis.eval(RELEASE, 1, lock, owner).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
