import type { Dispatcher } from 'undici';
import type { RouteConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenHttpRequest, TokenSet, TokenUrls } from '../providers/types.js';
import { backoffDelay } from './backoff.js';
import { TokenEndpointError, type TokenClient } from './client.js';
import type { Clock } from './clock.js';
import type { GrantKeeper } from './grant-keeper.js';
import { planGrants } from './grant-plan.js';
import type { Current, Failure, Lifecycle } from './lifecycle.js';
import type { GrantLease, StoredGrant, TokenStore } from './store.js';
import { Timer } from './timer.js';
import { injectable, makeToken, type Token } from './token.js';
import { UnauthorizedBackoff } from './unauthorized.js';

export type { Failure } from './lifecycle.js';
export type { Token } from './token.js';

export interface RefreshSettings {
  readonly ahead: number;
  readonly defaultLifetime: number;
  /** Longer lifetimes are cut to this (a year-long token still refreshes on a sane schedule). */
  readonly maxLifetime: number;
  readonly backoffInitial: number;
  readonly backoffMax: number;
  readonly rejectedRetry: number;
  /** How long a refresh waits for another replica's lock before reading what it wrote. */
  readonly lockWait: number;
}

export interface CredentialDeps {
  readonly client: TokenClient;
  readonly dispatcher: Dispatcher;
  readonly store: TokenStore;
  readonly keeper: GrantKeeper;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly settings: RefreshSettings;
  readonly random: () => number;
}

/** A refresh that ended without a token request being answered: why, for the failure state. */
const transient = (reason: string, message: string) => new TokenEndpointError('transient', reason, message);

/**
 * One credential's token lifecycle: obtain, store a rotated refresh token before use, refresh
 * ahead of expiry in the background, back off on failure. Its state is one `Lifecycle` value,
 * changed only by `#move`; the request path asks `current(now)`. Never throws to callers.
 */
export class Credential {
  readonly key: string;
  readonly routes: RouteConfig[];
  #state: Lifecycle = { kind: 'empty' };
  #inflight: Promise<void> | undefined;
  readonly #deps: CredentialDeps;
  readonly #timer: Timer;
  readonly #unauthorized: UnauthorizedBackoff;
  #stopped = false;

  constructor(key: string, route: RouteConfig, deps: CredentialDeps) {
    this.key = key;
    this.routes = [route];
    this.#deps = deps;
    this.#timer = new Timer(deps.clock);
    this.#unauthorized = new UnauthorizedBackoff(deps.settings);
  }

  get primary(): RouteConfig {
    return this.routes[0] as RouteConfig;
  }

  get state(): Lifecycle {
    return this.#state;
  }

  get inflight(): Promise<void> | undefined {
    return this.#inflight;
  }

  /** Refreshing, or holding a grant the store has not accepted: not to be evicted. */
  get busy(): boolean {
    return this.#inflight !== undefined || this.#deps.keeper.unsaved;
  }

  /** The token if it can still be injected: never one at or near its expiry. */
  usable(now: number): Token | undefined {
    const token = this.#state.kind === 'empty' ? undefined : this.#state.token;
    return token && injectable(token, now) ? token : undefined;
  }

  /** The request path's one question: a token, a fetch to wait on (`started` if this call began it), or a failure. */
  current(now: number): Current {
    const token = this.usable(now);
    if (token) return { kind: 'token', token };
    if (this.#inflight) return { kind: 'wait', until: this.#inflight, started: false };
    const state = this.#state;
    if ((state.kind === 'failing' || state.kind === 'rejected') && now < state.failure.nextAttemptAt) return { kind: 'failure', failure: state.failure };
    return { kind: 'wait', until: this.refresh('request'), started: true };
  }

  /** Starts a fetch unless one is in flight (single-flight); the promise never rejects. */
  refresh(trigger: string): Promise<void> {
    if (this.#inflight) return this.#inflight;
    if (this.#stopped) return Promise.resolve();
    this.#timer.cancel();
    this.#inflight = this.#obtain(trigger)
      .catch((error: unknown) => {
        // "Never throws": a bug in a dialect builder or a store becomes a classified failure.
        this.#fail(transient('internal', `refresh failed inside the sidecar: ${(error as Error)?.message ?? String(error)}`), trigger);
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  /**
   * After an upstream 401: whether to retry with a fresh token (dropping this one if current).
   * Not while fresh tokens were just answered 401 too (see UnauthorizedBackoff).
   */
  unauthorized(tokenId: number): boolean {
    const current = this.#state.kind === 'empty' ? undefined : this.#state.token;
    if (this.#unauthorized.holdsBack(tokenId, current?.id, this.#deps.clock.now())) return false;
    if (current?.id === tokenId) {
      this.#deps.keeper.invalidated = current.value;
      this.#move(this.#state.kind === 'valid' ? { kind: 'empty' } : { ...this.#state, token: undefined } as Lifecycle);
    }
    return true;
  }

  /** The retry after a 401 came back; `unauthorized` when it was a 401 again. */
  retried(tokenId: number, unauthorized: boolean): void {
    this.#unauthorized.retried(tokenId, unauthorized, this.#deps.clock.now());
  }

  /** A secret file changed: a rejected credential is retried at once with the new secret. */
  secretsChanged(): void {
    const state = this.#state;
    if (state.kind === 'rejected') {
      this.#move({ ...state, failure: { ...state.failure, nextAttemptAt: this.#deps.clock.now() } });
      void this.refresh('secret_changed');
    }
  }

  /** Another replica wrote this grant: adopt its access token if newer (saves a token call). */
  adoptWritten(grant: StoredGrant | undefined): void {
    if (!grant || this.#inflight || this.#stopped || this.#adopt(grant)) return;
    // A new consent (authorize) for a route that stood rejected: try it now, not at rejectedRetry.
    this.secretsChanged();
  }

  /** Reads what another replica wrote (after waiting for its lock in vain). */
  async #readWritten(): Promise<void> {
    try {
      const stored = await this.#deps.store.get(this.key);
      this.#deps.keeper.absorb(stored);
      if (stored) this.#adopt(stored);
    } catch {
      // The next refresh reads the store again.
    }
  }

  /** Stops timers; resolves once an in-flight refresh has ended or `boundMs` passed. */
  async stop(boundMs = 0): Promise<void> {
    this.#stopped = true;
    this.#timer.cancel();
    const inflight = this.#inflight;
    if (!inflight || boundMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inflight, new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)))]);
    clearTimeout(timer);
  }

  /** The one place the lifecycle moves; the expiry gauge follows the token. */
  #move(next: Lifecycle): void {
    this.#state = next;
    const token = next.kind === 'empty' ? undefined : next.token;
    if (token) for (const route of this.routes) this.#deps.metrics.tokenExpiry.set({ route: route.name }, token.expiresAt / 1000);
  }

  async #obtain(trigger: string): Promise<void> {
    const { store, settings, keeper } = this.#deps;
    // A lock kept since an unsaved rotation is still ours: no other replica took it meanwhile.
    let lease = keeper.takeLease();
    if (store.lock && !lease) {
      try {
        lease = await store.lock(this.key, settings.lockWait);
      } catch (error) {
        this.#deps.metrics.storeErrors.inc({ route: this.primary.name, operation: 'lock' });
        this.#fail(transient('store_lock', `could not take the grant's lock in the token store (${(error as Error).message}); nothing was sent`), trigger);
        return;
      }
      if (!lease) {
        // Another replica kept the lock all along: use what it wrote, if anything yet.
        await this.#readWritten();
        if (!this.usable(this.#deps.clock.now())) this.#fail(transient('store_busy', 'another replica is refreshing this grant and has not finished; retrying'), trigger);
        return;
      }
    }
    let handedOver = false;
    try {
      handedOver = await this.#obtainExclusively(trigger, lease);
    } finally {
      if (!handedOver) await lease?.release();
    }
  }

  /** Runs as the only writer of this grant. Returns true when the keeper took over the lease. */
  async #obtainExclusively(trigger: string, lease: GrantLease | undefined): Promise<boolean> {
    const { clock, keeper } = this.#deps;
    const route = this.primary;
    const read = await keeper.read();
    if (!read.ok) {
      this.#fail(transient(read.reason, read.message), trigger);
      return false;
    }
    const stored = read.grant;
    // A newer valid access token in the store (a restart, or another replica that just
    // refreshed) saves a token call, unless it is the one an upstream just answered 401 to.
    if (stored && this.#adopt(stored)) return false;
    if (read.heldUntil !== undefined && stored?.refreshToken !== undefined) {
      // The store had lost the grant and got it back: a replica whose lock vanished with it may
      // be spending this refresh token now, another may hold a newer one. Spend nothing until
      // that had its time (or a newer generation lands, which the next read continues from).
      const waitMs = read.heldUntil - clock.now();
      this.#fail(new TokenEndpointError('transient', 'store_reseeded', `the token store had lost the grant and got it back; its refresh token waits ${Math.ceil(waitMs / 1000)} s for every replica to write back a newer one`, { retryAfterMs: waitMs }), trigger);
      return false;
    }

    const credentials = route.credentials.read();
    const urls: TokenUrls = { tokenUrl: route.tokenUrl, refreshUrl: route.refreshUrl };
    const plan = planGrants(route.dialect, credentials, stored, urls);
    if (plan.attempts.length === 0) {
      const fix = route.tenant === undefined ? `run "token-sidecar authorize ${route.name} --code CODE" or set credentials.refreshToken` : `put one in the tenant's folder as the file refreshToken`;
      this.#fail(new TokenEndpointError('rejected', 'no_refresh_token', `route ${route.name}${route.tenant === undefined ? '' : ` (tenant ${route.tenant})`} has no refresh token: ${fix}`), trigger);
      return false;
    }
    if (read.unsaved && this.#deps.store.lock && (!lease || lease.lost) && plan.refreshToken === stored?.refreshToken) {
      // The store does not hold this refresh token and our lock lapsed: another replica may be
      // spending the one before it. Send nothing until the unsaved grant lands.
      this.#fail(transient('store_unsaved', 'the last rotated refresh token is not stored yet and the grant lock lapsed; it is retried, and nothing is sent until it lands'), trigger);
      return false;
    }
    const generation = Math.max(stored?.generation ?? 0, keeper.chain?.generation ?? 0) + 1;

    for (const [index, tokenRequest] of plan.attempts.entries()) {
      const started = clock.now();
      try {
        const tokenSet = await this.#send(tokenRequest, started);
        return await this.#store(tokenSet, tokenRequest, plan, generation, started, lease);
      } catch (error) {
        const failure = error instanceof TokenEndpointError ? error : transient('internal', (error as Error).message);
        if (failure.refreshToken !== undefined) {
          // A broken 2xx still carried a refresh token: a rotating provider has spent the old
          // one, so store the new one before any retry, or the grant is lost.
          const current = this.usable(clock.now());
          await keeper.persist({ refreshToken: failure.refreshToken, accessToken: current?.value, obtainedAt: current?.obtainedAt, expiresAt: current?.expiresAt, bootstrap: plan.bootstrap, generation, updatedAt: clock.now() }, lease);
          this.#fail(failure, trigger, tokenRequest.grant, clock.now() - started);
          return true;
        }
        const fallBack = failure.kind === 'rejected' && index < plan.attempts.length - 1;
        if (!fallBack) {
          this.#fail(failure, trigger, tokenRequest.grant, clock.now() - started);
          return false;
        }
        this.#deps.logger.warn({ event: 'token_refresh_fallback', route: route.name, tenant: route.tenant, provider: route.provider, grant: tokenRequest.grant, reason: failure.reason }, 'refresh grant rejected; falling back to the initial grant');
      }
    }
    return false;
  }

  /** Adopts a stored access token when it is valid, newer and not due for refresh; true if adopted. */
  #adopt(stored: StoredGrant): boolean {
    const { clock, keeper } = this.#deps;
    if (!stored.accessToken || stored.expiresAt === undefined || stored.accessToken === keeper.invalidated) return false;
    const current = this.#state.kind === 'empty' ? undefined : this.#state.token;
    if (stored.accessToken === current?.value) return false;
    const adopted = makeToken(stored.accessToken, stored.obtainedAt ?? stored.updatedAt, stored.expiresAt, this.primary.dialect.sends);
    if (!injectable(adopted, clock.now()) || adopted.expiresAt <= (current?.expiresAt ?? 0) || this.#dueForRefresh(adopted)) return false;
    this.#accept(adopted);
    return true;
  }

  /** Whether a token is already inside its refresh-ahead window (adopting it would not help). */
  #dueForRefresh(token: Token): boolean {
    const lifetime = token.expiresAt - token.obtainedAt;
    return this.#deps.clock.now() >= token.expiresAt - lifetime * this.#deps.settings.ahead;
  }

  async #send(tokenRequest: TokenHttpRequest, started: number): Promise<TokenSet> {
    const { client, clock, metrics, dispatcher } = this.#deps;
    const route = this.primary;
    const labels = { route: route.name, provider: route.provider };
    try {
      const tokenSet = await client.send(tokenRequest, route.dialect, dispatcher);
      metrics.tokenRefresh.inc({ ...labels, grant: tokenRequest.grant, result: 'success' });
      return tokenSet;
    } catch (error) {
      const kind = error instanceof TokenEndpointError && error.kind === 'rejected' ? 'rejected' : 'error';
      metrics.tokenRefresh.inc({ ...labels, grant: tokenRequest.grant, result: kind });
      throw error;
    } finally {
      metrics.tokenRefreshDuration.observe(labels, (clock.now() - started) / 1000);
    }
  }

  /**
   * Stores the grant (a rotated refresh token first of all), then publishes the new token. Its
   * lifetime counts from when the request started, not when the answer arrived.
   */
  async #store(tokenSet: TokenSet, tokenRequest: TokenHttpRequest, plan: { refreshToken: string | undefined; bootstrap: string | undefined }, generation: number, started: number, lease: GrantLease | undefined): Promise<boolean> {
    const { clock, settings, logger, keeper } = this.#deps;
    const lifetimeMs = Math.min((tokenSet.expiresInSeconds ?? settings.defaultLifetime / 1000) * 1000, settings.maxLifetime);
    const expiresAt = started + lifetimeMs;
    const keptRefresh = tokenSet.refreshToken ?? (tokenRequest.grant === 'refresh_token' ? plan.refreshToken : undefined);
    const outcome = await keeper.persist({ refreshToken: keptRefresh, accessToken: tokenSet.accessToken, obtainedAt: started, expiresAt, bootstrap: plan.bootstrap, generation, updatedAt: clock.now() }, lease);
    this.#accept(makeToken(tokenSet.accessToken, started, expiresAt, this.primary.dialect.sends));
    logger.info({
      event: 'token_refresh',
      route: this.primary.name,
      tenant: this.primary.tenant,
      provider: this.primary.provider,
      grant: tokenRequest.grant,
      result: 'success',
      durationMs: clock.now() - started,
      expiresAt: new Date(expiresAt).toISOString(),
      rotated: tokenRequest.grant === 'refresh_token' && tokenSet.refreshToken !== undefined && tokenSet.refreshToken !== plan.refreshToken,
      ...(outcome === 'written' ? {} : { stored: outcome }),
    });
    return true;
  }

  #accept(token: Token): void {
    const { clock, settings, random, keeper } = this.#deps;
    keeper.invalidated = undefined;
    this.#move({ kind: 'valid', token });
    const lifetime = token.expiresAt - token.obtainedAt;
    // Refresh when `ahead` of the lifetime is left, jittered earlier by up to a quarter of that.
    const refreshAt = token.expiresAt - lifetime * Math.min(0.95, settings.ahead * (1 + 0.25 * random()));
    this.#schedule(Math.max(refreshAt, clock.now()), 'ahead');
  }

  #schedule(at: number, trigger: string): void {
    if (this.#stopped) return;
    this.#timer.at(at, () => void this.refresh(trigger));
  }

  #fail(error: TokenEndpointError, trigger: string, grant?: string, durationMs?: number): void {
    const { clock, settings, logger, random } = this.#deps;
    const now = clock.now();
    const previous = this.#state.kind === 'failing' || this.#state.kind === 'rejected' ? this.#state.failure : undefined;
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay =
      error.kind === 'rejected'
        ? settings.rejectedRetry
        : Math.max(Math.min(error.retryAfterMs ?? 0, settings.rejectedRetry), backoffDelay(attempts - 1, settings.backoffInitial, settings.backoffMax, random));
    const failure: Failure = { reason: error.reason, since: previous?.since ?? now, attempts, nextAttemptAt: now + delay };
    const token = this.usable(now);
    this.#move({ kind: error.kind === 'rejected' ? 'rejected' : 'failing', token, failure });
    const level = error.kind === 'rejected' ? 'error' : 'warn';
    logger[level]({
      event: 'token_refresh_failed',
      route: this.primary.name,
      tenant: this.primary.tenant,
      provider: this.primary.provider,
      grant,
      trigger,
      result: error.kind === 'rejected' ? 'rejected' : 'error',
      durationMs,
      kind: error.kind,
      reason: error.reason,
      status: error.status,
      attempts,
      retryInMs: Math.round(delay),
      tokenValidUntil: token ? new Date(token.expiresAt).toISOString() : undefined,
    }, error.message);
    this.#schedule(now + delay, 'retry');
  }
}
