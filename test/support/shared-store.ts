// A store shared by several in-process replicas, the way Redis is: compare-and-set writes, one
// lock per grant, change messages to the other replicas, and the faults a test needs (a restart
// that loses every grant and lock, a replica that misses messages, a write held in flight).
import { MemoryStore, type GrantLease, type StoredGrant, type TokenStore, type WriteResult } from '../../src/token/store.js';

interface Lock {
  readonly owner: number;
  readonly lease: { lost: boolean };
}

export class SharedStore {
  #grants = new MemoryStore();
  readonly #locks = new Map<string, Lock>();
  readonly #waiters = new Set<() => void>();
  readonly #views: SharedStoreView[] = [];
  /** The next write waits for this (a write in flight when the store restarts), then it clears. */
  holdNextWrite: Promise<void> | undefined;

  /** A replica's connection to the store. */
  view(): SharedStoreView {
    const view = new SharedStoreView(this, this.#views.length);
    this.#views.push(view);
    return view;
  }

  /** The store restarts empty: every grant and every lock is gone (their holders' leases lost). */
  wipe(): void {
    this.#grants = new MemoryStore();
    for (const lock of this.#locks.values()) lock.lease.lost = true;
    this.#locks.clear();
    this.#wake();
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    return this.#grants.get(key);
  }

  async set(from: number, key: string, grant: StoredGrant): Promise<WriteResult> {
    const hold = this.holdNextWrite;
    this.holdNextWrite = undefined;
    await hold;
    const result = await this.#grants.set(key, grant);
    if (result.written) for (const view of this.#views) if (view.index !== from) view.tell(key, grant);
    return result;
  }

  async lock(from: number, key: string): Promise<GrantLease> {
    while (this.#locks.has(key)) await new Promise<void>((resolve) => this.#waiters.add(resolve));
    const lease = { lost: false };
    const lock = { owner: from, lease };
    this.#locks.set(key, lock);
    return {
      get lost() {
        return lease.lost;
      },
      release: async () => {
        if (this.#locks.get(key) !== lock) return;
        this.#locks.delete(key);
        this.#wake();
      },
    };
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

export class SharedStoreView implements TokenStore {
  /** While true, this replica misses the other replicas' change messages. */
  deaf = false;
  readonly #changeListeners = new Set<(key: string, grant: StoredGrant | undefined) => void>();
  readonly #reconnectListeners = new Set<() => void>();

  constructor(
    private readonly shared: SharedStore,
    readonly index: number,
  ) {}

  get(key: string): Promise<StoredGrant | undefined> {
    return this.shared.get(key);
  }

  set(key: string, grant: StoredGrant): Promise<WriteResult> {
    return this.shared.set(this.index, key, grant);
  }

  lock(key: string): Promise<GrantLease | undefined> {
    return this.shared.lock(this.index, key);
  }

  onChange(listener: (key: string, grant: StoredGrant | undefined) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  /** This replica's connection comes back after the store restarted. */
  reconnect(): void {
    for (const listener of this.#reconnectListeners) listener();
  }

  tell(key: string, grant: StoredGrant): void {
    if (this.deaf) return;
    for (const listener of this.#changeListeners) listener(key, grant);
  }

  async close(): Promise<void> {}
}
