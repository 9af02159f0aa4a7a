/**
 * What a store keeps per credential: the refresh token (rotated on use by some providers) and
 * the current access token, so a restart or another replica does not fetch again.
 * `bootstrap` fingerprints the config's bootstrap refresh token this grant descends from:
 * a changed bootstrap in the config (a new `authorize`) wins over the stored chain.
 */
export interface StoredGrant {
  readonly refreshToken?: string | undefined;
  readonly accessToken?: string | undefined;
  readonly expiresAt?: number | undefined;
  readonly bootstrap?: string | undefined;
  readonly updatedAt: number;
}

export interface TokenStore {
  get(key: string): Promise<StoredGrant | undefined>;
  /** Resolves only once the grant is durable: a rotated refresh token is stored before it is used. */
  set(key: string, grant: StoredGrant): Promise<void>;
  /**
   * Runs `fetch` as the only writer of this grant across every process sharing the store
   * (a rotating refresh token must never be used twice). In-process stores need no lock.
   */
  exclusive?<T>(key: string, fetch: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class MemoryStore implements TokenStore {
  readonly #grants = new Map<string, StoredGrant>();
  async get(key: string): Promise<StoredGrant | undefined> {
    return this.#grants.get(key);
  }
  async set(key: string, grant: StoredGrant): Promise<void> {
    this.#grants.set(key, grant);
  }
  async close(): Promise<void> {}
}
