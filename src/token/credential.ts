import type { Dispatcher } from 'undici';
import type { RouteConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenHttpRequest, TokenSet, TokenUrls } from '../providers/types.js';
import { backoffCeiling, backoffDelay } from './backoff.js';
import { TokenEndpointError, type TokenClient } from './client.js';
import type { Clock } from './clock.js';
import { planGrants } from './grant-plan.js';
import type { StoredGrant, TokenStore } from './store.js';

export interface Token {
  /** Sequence number, so a 401 invalidates only the token it was answered to. */
  readonly id: number;
  readonly value: string;
  readonly obtainedAt: number;
  readonly expiresAt: number;
}

export interface Failure {
  readonly kind: 'rejected' | 'transient';
  readonly reason: string;
  readonly since: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

export interface RefreshSettings {
  readonly ahead: number;
  readonly defaultLifetime: number;
  readonly backoffInitial: number;
  readonly backoffMax: number;
  readonly rejectedRetry: number;
}

export interface CredentialDeps {
  readonly client: TokenClient;
  readonly dispatcher: Dispatcher;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly settings: RefreshSettings;
  readonly random: () => number;
}

let nextTokenId = 1;

/** A token is injected only while comfortably before its expiry (5% of its life, at most 1 s). */
function injectable(token: Token, now: number): boolean {
  const margin = Math.min(1000, (token.expiresAt - token.obtainedAt) * 0.05);
  return now < token.expiresAt - margin;
}

/**
 * One credential's token lifecycle: obtain, store a rotated refresh token before use,
 * refresh ahead of expiry in the background, back off on failure. Never throws to callers.
 */
export class Credential {
  readonly key: string;
  readonly routes: RouteConfig[];
  token: Token | undefined;
  failure: Failure | undefined;
  inflight: Promise<void> | undefined;
  readonly #deps: CredentialDeps;
  #timer: unknown;
  #invalidated: string | undefined;
  /** 401s that fresh tokens did not cure: while `until` runs, a 401 goes back without a refresh. */
  readonly #unauthorized = { streak: 0, tokenId: 0, until: 0 };
  /** A grant whose store write failed: kept here so a rotated refresh token is never lost. */
  #unsaved: StoredGrant | undefined;
  #stopped = false;

  constructor(key: string, route: RouteConfig, deps: CredentialDeps) {
    this.key = key;
    this.routes = [route];
    this.#deps = deps;
  }

  get primary(): RouteConfig {
    return this.routes[0] as RouteConfig;
  }

  /** The token if it can still be injected: never one at or near its expiry. */
  usable(now: number): Token | undefined {
    return this.token && injectable(this.token, now) ? this.token : undefined;
  }

  /** Starts a fetch unless one is in flight (single-flight); the promise never rejects. */
  refresh(trigger: string): Promise<void> {
    if (this.inflight) return this.inflight;
    this.#cancelTimer();
    this.inflight = this.#obtain(trigger).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** After an upstream 401: drop the token only if it is still the current one. */
  #invalidate(tokenId: number): void {
    if (this.token?.id !== tokenId) return;
    this.#invalidated = this.token.value;
    this.token = undefined;
  }

  /**
   * After an upstream 401: whether to retry with a fresh token (dropping this one if current).
   * Not while fresh tokens were just answered 401 too: then the token is not the problem, and a
   * refresh per request would hammer the token endpoint (and get the whole route rate-limited).
   */
  unauthorized(tokenId: number): boolean {
    const backingOff = this.#unauthorized.streak > 0 && this.#deps.clock.now() < this.#unauthorized.until;
    if (backingOff && this.token?.id === tokenId) return false;
    this.#invalidate(tokenId);
    return true;
  }

  /** The retry after a 401 came back. A 401 again, with a fresh token, backs off 401 refreshes (backoffInitial doubling to backoffMax). */
  retried(tokenId: number, unauthorized: boolean): void {
    const state = this.#unauthorized;
    if (!unauthorized) {
      state.streak = 0;
      return;
    }
    if (tokenId === state.tokenId) return; // once per token, however many requests carried it
    const { backoffInitial, backoffMax } = this.#deps.settings;
    state.tokenId = tokenId;
    state.streak += 1;
    state.until = this.#deps.clock.now() + backoffCeiling(state.streak - 1, backoffInitial, backoffMax);
  }

  /** A secret file changed: a rejected credential is retried at once with the new secret. */
  secretsChanged(): void {
    if (this.failure?.kind === 'rejected') {
      this.failure = { ...this.failure, nextAttemptAt: this.#deps.clock.now() };
      void this.refresh('secret_changed');
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number, trigger: string): void {
    if (this.#stopped) return;
    this.#cancelTimer();
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.refresh(trigger);
    }, delayMs);
  }

  async #readStore(): Promise<StoredGrant | undefined> {
    try {
      return this.#unsaved ?? (await this.#deps.store.get(this.key));
    } catch (error) {
      this.#deps.logger.error({ event: 'store_read_failed', route: this.primary.name, error: (error as Error).message });
      return undefined;
    }
  }

  async #obtain(trigger: string): Promise<void> {
    const { store } = this.#deps;
    if (!store.exclusive) return this.#obtainExclusively(trigger);
    try {
      await store.exclusive(this.key, () => this.#obtainExclusively(trigger));
    } catch (error) {
      this.#fail(new TokenEndpointError('transient', 'store_lock', (error as Error).message), trigger);
    }
  }

  /** Runs as the only writer of this grant: reads the newest stored state, then fetches if needed. */
  async #obtainExclusively(trigger: string): Promise<void> {
    const { clock } = this.#deps;
    const route = this.primary;
    const credentials = route.credentials.read();
    const urls: TokenUrls = { tokenUrl: route.tokenUrl, refreshUrl: route.refreshUrl };
    const stored = await this.#readStore();

    // A newer valid access token in the store (a restart, or another replica that just
    // refreshed) saves a token call, unless it is the one an upstream just answered 401 to.
    if (stored?.accessToken && stored.expiresAt !== undefined && stored.accessToken !== this.#invalidated && stored.accessToken !== this.token?.value) {
      const adopted: Token = { id: nextTokenId++, value: stored.accessToken, obtainedAt: stored.updatedAt, expiresAt: stored.expiresAt };
      if (injectable(adopted, clock.now()) && adopted.expiresAt > (this.token?.expiresAt ?? 0) && !this.#dueForRefresh(adopted)) {
        this.#accept(adopted);
        return;
      }
    }

    const { attempts, refreshToken, bootstrap: grantBootstrap } = planGrants(route.dialect, credentials, stored, urls);
    if (attempts.length === 0) {
      this.#fail(new TokenEndpointError('rejected', 'no_refresh_token', `route ${route.name} has no refresh token: run "token-sidecar authorize ${route.name} --code CODE" or set credentials.refreshToken`), trigger);
      return;
    }

    for (const [index, tokenRequest] of attempts.entries()) {
      const started = this.#deps.clock.now();
      try {
        const tokenSet = await this.#send(tokenRequest);
        await this.#store(tokenSet, tokenRequest, refreshToken, grantBootstrap, started);
        return;
      } catch (error) {
        const failure = error instanceof TokenEndpointError ? error : new TokenEndpointError('transient', 'internal', (error as Error).message);
        if (failure.refreshToken !== undefined) await this.#keepRefreshToken(failure.refreshToken, grantBootstrap);
        const fallBack = failure.kind === 'rejected' && index < attempts.length - 1;
        if (!fallBack) {
          this.#fail(failure, trigger, tokenRequest.grant, this.#deps.clock.now() - started);
          return;
        }
        this.#deps.logger.warn({ event: 'token_refresh_fallback', route: route.name, provider: route.provider, grant: tokenRequest.grant, reason: failure.reason }, 'refresh grant rejected; falling back to the initial grant');
      }
    }
  }

  /** Whether a token is already inside its refresh-ahead window (adopting it would not help). */
  #dueForRefresh(token: Token): boolean {
    const lifetime = token.expiresAt - token.obtainedAt;
    return this.#deps.clock.now() >= token.expiresAt - lifetime * this.#deps.settings.ahead;
  }

  async #send(tokenRequest: TokenHttpRequest): Promise<TokenSet> {
    const { client, clock, metrics, dispatcher } = this.#deps;
    const route = this.primary;
    const started = clock.now();
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

  /** Stores the grant (a rotated refresh token first of all), then publishes the new token. */
  async #store(tokenSet: TokenSet, tokenRequest: TokenHttpRequest, usedRefreshToken: string | undefined, bootstrap: string | undefined, started: number): Promise<void> {
    const { clock, settings, logger } = this.#deps;
    const now = clock.now();
    const lifetimeMs = (tokenSet.expiresInSeconds ?? settings.defaultLifetime / 1000) * 1000;
    const keptRefresh = tokenSet.refreshToken ?? (tokenRequest.grant === 'refresh_token' ? usedRefreshToken : undefined);
    await this.#persist({ refreshToken: keptRefresh, accessToken: tokenSet.accessToken, expiresAt: now + lifetimeMs, bootstrap, updatedAt: now });
    const token: Token = { id: nextTokenId++, value: tokenSet.accessToken, obtainedAt: now, expiresAt: now + lifetimeMs };
    this.#accept(token);
    logger.info({
      event: 'token_refresh',
      route: this.primary.name,
      provider: this.primary.provider,
      grant: tokenRequest.grant,
      result: 'success',
      durationMs: now - started,
      expiresAt: new Date(token.expiresAt).toISOString(),
      rotated: tokenRequest.grant === 'refresh_token' && tokenSet.refreshToken !== undefined && tokenSet.refreshToken !== usedRefreshToken,
    });
  }

  /**
   * A broken 2xx answer still carried a refresh token: a rotating provider has spent the old
   * one, so store the new one before any retry, or the grant is lost (Light revokes the family).
   */
  async #keepRefreshToken(refreshToken: string, bootstrap: string | undefined): Promise<void> {
    const current = this.token;
    // The current access token stays as it was (obtainedAt doubles as updatedAt on adoption).
    await this.#persist({ refreshToken, accessToken: current?.value, expiresAt: current?.expiresAt, bootstrap, updatedAt: current?.obtainedAt ?? this.#deps.clock.now() });
  }

  /** Writes the grant; if the store fails, keeps it in memory so a rotated refresh token is never lost. */
  async #persist(grant: StoredGrant): Promise<void> {
    try {
      await this.#deps.store.set(this.key, grant);
      this.#unsaved = undefined;
    } catch (error) {
      this.#unsaved = grant;
      this.#deps.logger.error({ event: 'store_write_failed', route: this.primary.name, error: (error as Error).message }, 'could not persist the grant; keeping it in memory');
    }
  }

  #accept(token: Token): void {
    const { clock, settings, metrics, random } = this.#deps;
    this.token = token;
    this.failure = undefined;
    this.#invalidated = undefined;
    for (const route of this.routes) metrics.tokenExpiry.set({ route: route.name }, token.expiresAt / 1000);
    const lifetime = token.expiresAt - token.obtainedAt;
    // Refresh when `ahead` of the lifetime is left, jittered earlier by up to a quarter of that.
    const refreshAt = token.expiresAt - lifetime * Math.min(0.95, settings.ahead * (1 + 0.25 * random()));
    this.#schedule(refreshAt - clock.now(), 'ahead');
  }

  #fail(error: TokenEndpointError, trigger: string, grant?: string, durationMs?: number): void {
    const { clock, settings, logger, random } = this.#deps;
    const now = clock.now();
    const attempts = (this.failure?.attempts ?? 0) + 1;
    const delay =
      error.kind === 'rejected'
        ? settings.rejectedRetry
        : Math.max(Math.min(error.retryAfterMs ?? 0, settings.rejectedRetry), backoffDelay(attempts - 1, settings.backoffInitial, settings.backoffMax, random));
    this.failure = { kind: error.kind, reason: error.reason, since: this.failure?.since ?? now, attempts, nextAttemptAt: now + delay };
    const level = error.kind === 'rejected' ? 'error' : 'warn';
    logger[level]({
      event: 'token_refresh_failed',
      route: this.primary.name,
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
      tokenValidUntil: this.token ? new Date(this.token.expiresAt).toISOString() : undefined,
    }, error.message);
    this.#schedule(delay, 'retry');
  }
}
