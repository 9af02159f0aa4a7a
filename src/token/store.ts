/**
 * What a store keeps per credential: the refresh token (rotated on use by some providers) and
 * the current access token, so a restart or another replica does not fetch again.
 * `bootstrap` fingerprints the config's bootstrap refresh token this grant descends from:
 * a changed bootstrap in the config (a new consent) wins over the stored chain.
 * `generation` counts the grants of one chain: every write carries the generation after the one
 * it continues, and a store refuses a grant that is not newer than what it holds.
 */
export interface StoredGrant {
  readonly refreshToken?: string | undefined;
  readonly accessToken?: string | undefined;
  /** When the access token was requested (its lifetime counts from then). */
  readonly obtainedAt?: number | undefined;
  readonly expiresAt?: number | undefined;
  readonly bootstrap?: string | undefined;
  readonly generation: number;
  readonly updatedAt: number;
  /**
   * Written back by a replica after the store had lost it: its refresh token may already be
   * spent by a refresh whose lock vanished with the store, so it waits (see GrantKeeper.read).
   * A fresh id per write-back, so a second loss of the same generation is held again. The next
   * rotation's grant goes without it.
   */
  readonly reseeded?: string | undefined;
}

/** `written`, or `stale`: the store already holds this generation or a newer one (`current`). */
export type WriteResult = { readonly written: true } | { readonly written: false; readonly current: StoredGrant | undefined };

/** A held per-grant lock. `lost` turns true if the store could not keep it (expired, not renewed). */
export interface GrantLease {
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface TokenStore {
  /** The stored grant, undefined when none is stored. Rejects when the store cannot answer: never "nothing stored". */
  get(key: string): Promise<StoredGrant | undefined>;
  /**
   * Compare-and-set: writes the grant only if nothing is stored or the stored generation is
   * lower. Resolves once the grant is durable: a rotated refresh token is stored before use.
   */
  set(key: string, grant: StoredGrant): Promise<WriteResult>;
  /**
   * Takes the grant's lock across every process sharing the store (a rotating refresh token
   * must never be used twice), waiting at most `waitMs`; undefined if another holder kept it.
   * In-process stores need no lock and leave this out.
   */
  lock?(key: string, waitMs: number): Promise<GrantLease | undefined>;
  /**
   * Tells the caller when another process wrote a grant (Redis pub/sub), with the grant itself,
   * so every replica knows the newest chain even if the store loses it a moment later.
   */
  onChange?(listener: (key: string, grant: StoredGrant | undefined) => void): () => void;
  /** Tells the caller when the store came back after losing its connection (it may be empty). */
  onReconnect?(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Whether `grant` may replace `stored` (the compare-and-set rule every store applies). */
export function supersedes(grant: StoredGrant, stored: StoredGrant | undefined): boolean {
  return stored === undefined || (stored.generation ?? 0) < grant.generation;
}

/**
 * The in-process store. A grant with a refresh token (a chain) is kept for the process's life:
 * dropping it would lose the chain. A grant without one holds only an access token that a token
 * request can replace, so at most `maxAccessOnly` of those are kept, least recently used dropped
 * first: with many tenants, memory follows `cache.maxEntries`, not the number of tenants.
 */
export class MemoryStore implements TokenStore {
  readonly #chains = new Map<string, StoredGrant>();
  readonly #accessOnly = new Map<string, StoredGrant>();
  readonly #maxAccessOnly: number;

  constructor(options: { maxAccessOnly?: number } = {}) {
    this.#maxAccessOnly = options.maxAccessOnly ?? Number.POSITIVE_INFINITY;
  }

  /** How many grants it holds (for tests and the bound above). */
  get size(): number {
    return this.#chains.size + this.#accessOnly.size;
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    const chain = this.#chains.get(key);
    if (chain !== undefined) return chain;
    const grant = this.#accessOnly.get(key);
    if (grant !== undefined) {
      // Most recently used last, so the bound drops the coldest.
      this.#accessOnly.delete(key);
      this.#accessOnly.set(key, grant);
    }
    return grant;
  }

  async set(key: string, grant: StoredGrant): Promise<WriteResult> {
    const current = this.#chains.get(key) ?? this.#accessOnly.get(key);
    if (!supersedes(grant, current)) return { written: false, current };
    this.#accessOnly.delete(key);
    if (grant.refreshToken !== undefined || this.#chains.has(key)) {
      this.#chains.set(key, grant);
      return { written: true };
    }
    this.#accessOnly.set(key, grant);
    for (const oldest of this.#accessOnly.keys()) {
      if (this.#accessOnly.size <= this.#maxAccessOnly) break;
      this.#accessOnly.delete(oldest);
    }
    return { written: true };
  }

  async close(): Promise<void> {}
}
