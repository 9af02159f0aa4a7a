import type { SidecarConfig } from '../../config/load.js';
import { MemoryStore, type TokenStore } from '../store.js';
import { FileStore } from './file.js';
import { RedisStore } from './redis.js';

/** The store the config names. */
export function createStore(store: SidecarConfig['store']): TokenStore {
  switch (store.type) {
    case 'file':
      return new FileStore(store.path as string);
    case 'redis':
      return new RedisStore(store.url as string, store.keyPrefix);
    case 'memory':
      return new MemoryStore();
  }
}
