import type { SidecarConfig } from '../../config/load.js';
import { minimumLockTtl } from '../../config/schema.js';
import { MemoryStore, type TokenStore } from '../store.js';

/** The Redis lock's TTL: the configured one, or what a refresh's attempts can take plus a margin. */
export function lockTtl(config: Pick<SidecarConfig, 'store' | 'timeouts'>): number {
  return config.store.lockTtl ?? minimumLockTtl(config.timeouts.token);
}

/** The store the config names; its module (and the Redis client) loads only when the config names it. */
export async function createStore(config: Pick<SidecarConfig, 'store' | 'timeouts' | 'cache'>): Promise<TokenStore> {
  const { store } = config;
  switch (store.type) {
    case 'file': {
      const { FileStore } = await import('./file.js');
      return new FileStore(store.path as string);
    }
    case 'redis': {
      const { RedisStore } = await import('./redis.js');
      return new RedisStore({
        url: store.url ?? 'redis://127.0.0.1:6379',
        keyPrefix: store.keyPrefix,
        username: store.username,
        password: store.password,
        caFile: store.caFile,
        sentinel: store.sentinel,
        cluster: store.cluster,
        lockTtlMs: lockTtl(config),
        commandTimeoutMs: Math.min(config.timeouts.token, 5_000),
      });
    }
    case 'memory':
      return new MemoryStore({ maxAccessOnly: config.cache.maxEntries });
  }
}
