import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { backoffCeiling } from './backoff.js';
import type { Clock } from './clock.js';
import type { GrantLease, StoredGrant, TokenStore } from './store.js';
import { CorruptGrantError } from './stores/grant-json.js';
import { Timer } from './timer.js';

/**
 * What reading the store found: the grant to continue from, or a failure (nothing may be sent).
 * `heldUntil`: the grant was written back after the store lost it, and its refresh token may
 * not be spent before then (see GrantKeeper.read).
 */
export type GrantRead =
  | { readonly ok: true; readonly grant: StoredGrant | undefined; readonly unsaved: boolean; readonly heldUntil?: number }
  | { readonly ok: false; readonly reason: 'store_read' | 'store_write'; readonly message: string };

export interface GrantKeeperDeps {
  readonly key: string;
  readonly route: () => string;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  /**
   * How long a re-seeded grant's refresh token waits before anyone spends it: the longest a
   * refresh can hold the store's lock (0 for a store without one: no other process shares it).
   */
  readonly reseedHoldMs: number;
}

/**
 * One grant's persistence, kept per credential key for the life of the process (it outlives the
 * credential's LRU entry): the newest grant this process read or wrote (its chain), a grant the
 * store has not accepted yet with its own retry schedule, and the lock kept while it waits.
 * The chain is what makes a refresh token spent at most once: once there is one, an empty or
 * failing store never sends the sidecar back to the config's long-dead bootstrap token.
 */
export class GrantKeeper {
  readonly #deps: GrantKeeperDeps;
  #chain: StoredGrant | undefined;
  #unsaved: StoredGrant | undefined;
  #lease: GrantLease | undefined;
  #attempts = 0;
  /** The write-back this process saw last (its `reseeded` id), and until when its refresh token waits. */
  #hold: { readonly reseeded: string; readonly until: number } | undefined;
  readonly #timer: Timer;
  /** The access token an upstream answered 401 to: never adopted again from the store. */
  invalidated: string | undefined;

  constructor(deps: GrantKeeperDeps) {
    this.#deps = deps;
    this.#timer = new Timer(deps.clock);
  }

  get chain(): StoredGrant | undefined {
    return this.#chain;
  }

  get unsaved(): boolean {
    return this.#unsaved !== undefined;
  }

  /**
   * The credential left the LRU: forget its access token (an evicted credential fetches again,
   * so cache.maxEntries bounds memory) and keep only what a chain needs. True when nothing is
   * left worth keeping.
   */
  evicted(): boolean {
    if (this.#unsaved) return false;
    if (this.#chain?.refreshToken === undefined) return this.invalidated === undefined;
    const { accessToken: _dropped, ...chain } = this.#chain;
    this.#chain = chain;
    return false;
  }

  /** Hands back the lock kept for an unsaved grant (to the refresh that continues the chain). */
  takeLease(): GrantLease | undefined {
    const lease = this.#lease;
    this.#lease = undefined;
    return lease;
  }

  /**
   * The grant to continue from: the store's, reconciled with the chain. A store that lost the
   * grant (restarted empty, restored from an old backup) gets the chain back, marked `reseeded`.
   * A re-seeded refresh token may already be spent: a replica whose lock vanished with the store
   * may be refreshing with it right now, and another may hold a newer chain it has not written
   * back yet. So it is held (`heldUntil`) for the longest a refresh can hold the lock, counted
   * from when this process first saw that write-back (its own clock, never another's), unless a
   * newer generation lands first: every replica writes back what it holds on reconnect, and the
   * compare-and-set keeps the newest.
   */
  async read(): Promise<GrantRead> {
    if (this.#unsaved) {
      await this.flush();
      if (this.#unsaved) return { ok: true, grant: this.#unsaved, unsaved: true };
    }
    let stored: StoredGrant | undefined;
    try {
      stored = await this.#deps.store.get(this.#deps.key);
    } catch (error) {
      // A corrupt value is replaced by the chain when there is one; any other error sends nothing.
      if (!(error instanceof CorruptGrantError && this.#chain)) {
        this.#storeError('get', error);
        return { ok: false, reason: 'store_read', message: `the token store could not be read (${(error as Error).message}); nothing was sent` };
      }
    }
    if (stored && (!this.#chain || stored.generation >= this.#chain.generation)) return this.#continueFrom(stored);
    if (!this.#chain) return { ok: true, grant: undefined, unsaved: false };
    const chain: StoredGrant = { ...this.#chain, reseeded: randomUUID() };
    try {
      const result = await this.#deps.store.set(this.#deps.key, chain);
      if (result.written) {
        this.#deps.logger.warn({ event: 'store_reseeded', route: this.#deps.route(), generation: chain.generation, holdMs: this.#deps.reseedHoldMs }, 'the token store had lost this grant; wrote back the newest one the sidecar holds, and its refresh token waits until every replica could write back a newer one');
        return this.#continueFrom(chain);
      }
      return this.#continueFrom(result.current ?? this.#chain);
    } catch (error) {
      this.#storeError('set', error);
      return { ok: false, reason: 'store_write', message: `the token store lost the grant and could not take it back (${(error as Error).message}); nothing was sent` };
    }
  }

  #continueFrom(grant: StoredGrant): GrantRead {
    this.#chain = grant;
    if (grant.reseeded === undefined || this.#deps.reseedHoldMs <= 0) return { ok: true, grant, unsaved: false };
    const now = this.#deps.clock.now();
    if (this.#hold?.reseeded !== grant.reseeded) this.#hold = { reseeded: grant.reseeded, until: now + this.#deps.reseedHoldMs };
    return now < this.#hold.until ? { ok: true, grant, unsaved: false, heldUntil: this.#hold.until } : { ok: true, grant, unsaved: false };
  }

  /** Another process wrote this grant: a newer one becomes the chain. */
  absorb(stored: StoredGrant | undefined): void {
    if (stored && !this.#unsaved && (!this.#chain || stored.generation > this.#chain.generation)) this.#chain = stored;
  }

  /**
   * Writes a grant (compare-and-set). On a store error the grant is kept, the lease with it (so
   * no other replica can take the lock and spend the old refresh token), and retried on its own
   * schedule. Returns whether the store holds it now; the keeper owns the lease from here on.
   */
  async persist(grant: StoredGrant, lease: GrantLease | undefined): Promise<'written' | 'stale' | 'unsaved'> {
    this.#chain = grant;
    try {
      const result = await this.#deps.store.set(this.#deps.key, grant);
      if (!result.written && result.current) this.#chain = result.current;
      this.#landed(lease);
      return result.written ? 'written' : 'stale';
    } catch (error) {
      this.#storeError('set', error);
      if (this.#lease && this.#lease !== lease) void this.#lease.release();
      this.#unsaved = grant;
      this.#lease = lease;
      this.#deps.metrics.grantUnsaved.set({ route: this.#deps.route() }, 1);
      this.#deps.logger.error({ event: 'store_write_failed', route: this.#deps.route(), generation: grant.generation, error: (error as Error).message }, 'could not persist the grant; keeping it (and the lock) and retrying until it lands');
      this.#scheduleRetry();
      return 'unsaved';
    }
  }

  /** Tries the unsaved grant once now (before a refresh, at shutdown). */
  async flush(): Promise<void> {
    const grant = this.#unsaved;
    if (!grant) return;
    try {
      const result = await this.#deps.store.set(this.#deps.key, grant);
      if (!result.written && result.current) this.#chain = result.current;
      this.#deps.logger.info({ event: 'store_write_recovered', route: this.#deps.route(), generation: grant.generation, attempts: this.#attempts + 1 });
      this.#landed(this.#lease);
    } catch (error) {
      this.#storeError('set', error);
      this.#attempts += 1;
      this.#scheduleRetry();
    }
  }

  /** Stops the retry schedule and gives up the lease (shutdown, after the last flush). */
  async stop(): Promise<void> {
    this.#timer.cancel();
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.release();
  }

  #landed(lease: GrantLease | undefined): void {
    this.#timer.cancel();
    this.#unsaved = undefined;
    this.#attempts = 0;
    this.#deps.metrics.grantUnsaved.set({ route: this.#deps.route() }, 0);
    const held = this.#lease;
    this.#lease = undefined;
    for (const each of new Set([held, lease])) void each?.release();
  }

  #scheduleRetry(): void {
    const { initialMs, maxMs } = this.#deps.retry;
    this.#timer.at(this.#deps.clock.now() + backoffCeiling(this.#attempts, initialMs, maxMs), () => void this.flush());
  }

  #storeError(operation: 'get' | 'set', error: unknown): void {
    this.#deps.metrics.storeErrors.inc({ route: this.#deps.route(), operation });
    if (operation === 'get') this.#deps.logger.error({ event: 'store_read_failed', route: this.#deps.route(), error: (error as Error).message });
  }
}
