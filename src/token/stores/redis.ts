import { Redis } from 'ioredis';
import type { StoredGrant, TokenStore } from '../store.js';

/** Grants in Redis, shared by every replica of an app (keys under `keyPrefix`). */
export class RedisStore implements TokenStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(url: string, keyPrefix: string) {
    // Fail a command fast instead of queueing it while Redis is away: the caller keeps the grant in memory.
    this.#redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true, connectTimeout: 5_000 });
    this.#redis.on('error', () => undefined);
    this.#prefix = keyPrefix;
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

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
