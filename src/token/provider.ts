import { watchFile, unwatchFile } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import { credentialKey, type RouteConfig } from '../config/load.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenClient } from './client.js';
import type { Clock } from './clock.js';
import { Credential, type RefreshSettings } from './credential.js';
import type { TokenStore } from './store.js';

/** What the proxy injects; `tokenId` lets a 401 invalidate exactly the token it was answered to. */
export interface Authorization {
  readonly header: string;
  readonly tokenId: number;
}

export interface RouteTokenState {
  readonly route: string;
  readonly provider: string;
  readonly state: 'static' | 'empty' | 'valid' | 'refreshing' | 'failing' | 'rejected';
  /** A token request is in flight right now (also while failing or rejected: a retry). */
  readonly refreshing: boolean;
  readonly validUntil?: string;
  readonly failingSince?: string;
  readonly reason?: string;
}

export interface TokenProviderDeps {
  readonly routes: readonly RouteConfig[];
  readonly client: TokenClient;
  /** The dispatcher for a route's token endpoint (its TLS trust and timeouts). */
  readonly dispatcherFor: (route: RouteConfig) => Dispatcher;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly settings: RefreshSettings & { readonly maxEntries: number };
  readonly random?: () => number;
  /** Watches a secret file; returns a function that stops watching. Injected for tests. */
  readonly watch?: (file: string, onChange: () => void) => () => void;
}

/**
 * Creates each route's refresh, cache and retry series at 0, so `increase()` in alerts sees the very
 * first failure (a counter that appears at 1 has no increase to show).
 */
function zeroSeries(metrics: Metrics, route: RouteConfig): void {
  const grants = new Set<string>();
  const credentials = route.credentials.read();
  const urls = { tokenUrl: route.tokenUrl, refreshUrl: route.refreshUrl };
  if (route.dialect.initialGrant(credentials, urls)) grants.add('client_credentials');
  if (route.dialect.refreshGrant) grants.add('refresh_token');
  for (const grant of grants) {
    for (const result of ['success', 'rejected', 'error']) metrics.tokenRefresh.inc({ route: route.name, provider: route.provider, grant, result }, 0);
  }
  for (const result of ['hit', 'miss', 'coalesced']) metrics.tokenCache.inc({ route: route.name, result }, 0);
  metrics.upstreamRetries.inc({ route: route.name, reason: 'unauthorized' }, 0);
}

function pollFile(file: string, onChange: () => void): () => void {
  // Stat polling follows symlinks, so it sees Kubernetes' atomic `..data` symlink swap.
  const listener = (current: { mtimeMs: number; ino: number }, previous: { mtimeMs: number; ino: number }) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino) onChange();
  };
  watchFile(file, { interval: 500, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}

/**
 * Owns every credential's token: an LRU of credentials (bounded by cache.maxEntries), read on
 * the request path, fetched single-flight when missing, refreshed ahead of expiry in the background.
 */
export class TokenProvider {
  readonly #deps: TokenProviderDeps;
  readonly #routes = new Map<string, { route: RouteConfig; key: string; static?: string }>();
  readonly #credentials: LRUCache<string, Credential>;
  readonly #unwatch: Array<() => void> = [];

  constructor(deps: TokenProviderDeps) {
    this.#deps = deps;
    this.#credentials = new LRUCache<string, Credential>({ max: deps.settings.maxEntries, dispose: (credential) => credential.stop() });
    for (const route of deps.routes) {
      const staticHeader = route.dialect.staticAuthorization?.(route.credentials.read());
      this.#routes.set(route.name, { route, key: credentialKey(route), ...(staticHeader === undefined ? {} : { static: staticHeader }) });
      if (staticHeader === undefined) zeroSeries(deps.metrics, route);
    }
  }

  /** Fetches every route's token in the background and starts watching secret files. */
  start(options: { eager: boolean }): void {
    const watch = this.#deps.watch ?? pollFile;
    for (const { route, static: isStatic } of this.#routes.values()) {
      for (const file of route.credentials.files) this.#unwatch.push(watch(file, () => this.#secretsChanged(route)));
      if (options.eager && isStatic === undefined) void this.#credential(route.name).refresh('startup');
    }
  }

  /**
   * The `Authorization` value for a route. Reads the cached token; only a missing or expired
   * token waits, on the one fetch in flight. Throws SidecarError when no valid token can be had.
   */
  async authorization(routeName: string): Promise<Authorization> {
    const entry = this.#routes.get(routeName);
    if (!entry) throw new Error(`unknown route ${routeName}`);
    if (entry.static !== undefined) return { header: entry.static, tokenId: 0 };
    const { clock, metrics } = this.#deps;
    const credential = this.#credential(routeName);
    const cached = credential.usable(clock.now());
    if (cached) {
      metrics.tokenCache.inc({ route: routeName, result: 'hit' });
      return { header: `Bearer ${cached.value}`, tokenId: cached.id };
    }
    if (credential.inflight) {
      metrics.tokenCache.inc({ route: routeName, result: 'coalesced' });
    } else {
      const failure = credential.failure;
      if (failure && clock.now() < failure.nextAttemptAt) throw this.#failureError(routeName, credential);
      metrics.tokenCache.inc({ route: routeName, result: 'miss' });
      void credential.refresh('request');
    }
    await credential.inflight;
    const token = credential.usable(clock.now());
    if (token) return { header: `Bearer ${token.value}`, tokenId: token.id };
    throw this.#failureError(routeName, credential);
  }

  /** After an upstream 401: true to retry with a fresh token (see Credential.unauthorized). */
  unauthorized(routeName: string, tokenId: number): boolean {
    if (tokenId === 0) return false;
    return this.#credential(routeName).unauthorized(tokenId);
  }

  /** The retry after a 401 came back; `unauthorized` when it was a 401 again. */
  retried(routeName: string, tokenId: number, unauthorized: boolean): void {
    if (tokenId !== 0) this.#credential(routeName).retried(tokenId, unauthorized);
  }

  /** Per-route token state for /readyz; no secrets. */
  states(): RouteTokenState[] {
    const now = this.#deps.clock.now();
    return [...this.#routes.values()].map(({ route, key, static: isStatic }) => {
      const credential = this.#credentials.peek(key);
      const base = { route: route.name, provider: route.provider, refreshing: credential?.inflight !== undefined };
      if (isStatic !== undefined) return { ...base, state: 'static' as const };
      const token = credential?.usable(now);
      const failure = credential?.failure;
      const validUntil = token ? { validUntil: new Date(token.expiresAt).toISOString() } : {};
      if (failure) {
        return { ...base, ...validUntil, state: failure.kind === 'rejected' ? ('rejected' as const) : ('failing' as const), failingSince: new Date(failure.since).toISOString(), reason: failure.reason };
      }
      if (credential?.inflight) return { ...base, ...validUntil, state: 'refreshing' as const };
      return { ...base, ...validUntil, state: token ? ('valid' as const) : ('empty' as const) };
    });
  }

  stop(): void {
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
    for (const credential of this.#credentials.values()) credential.stop();
    this.#credentials.clear();
  }

  #credential(routeName: string): Credential {
    const entry = this.#routes.get(routeName) as { route: RouteConfig; key: string };
    let credential = this.#credentials.get(entry.key);
    if (!credential) {
      const { client, dispatcherFor, store, clock, metrics, logger, settings } = this.#deps;
      credential = new Credential(entry.key, entry.route, {
        client, store, clock, metrics, logger, settings,
        dispatcher: dispatcherFor(entry.route),
        random: this.#deps.random ?? Math.random,
      });
      // Routes that share a credential share its token and its rotating refresh token.
      for (const other of this.#routes.values()) {
        if (other.key === entry.key && other.route !== entry.route) credential.routes.push(other.route);
      }
      this.#credentials.set(entry.key, credential);
    } else if (!credential.routes.includes(entry.route)) {
      credential.routes.push(entry.route);
    }
    return credential;
  }

  #secretsChanged(route: RouteConfig): void {
    this.#deps.logger.info({ event: 'secret_changed', route: route.name }, 'a secret file of the route changed');
    this.#credentials.peek(this.#routes.get(route.name)?.key ?? '')?.secretsChanged();
  }

  #failureError(routeName: string, credential: Credential): SidecarError {
    const failure = credential.failure;
    const retryAfterSeconds = failure ? Math.max(1, (failure.nextAttemptAt - this.#deps.clock.now()) / 1000) : 1;
    if (failure?.kind === 'rejected') return new SidecarError('token_rejected', { route: routeName, detail: `token endpoint rejected the credentials (${failure.reason})` });
    return new SidecarError('token_unavailable', { route: routeName, retryAfterSeconds, detail: `no valid token (${failure?.reason ?? 'fetch failed'})` });
  }
}
