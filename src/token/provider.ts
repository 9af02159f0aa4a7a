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
import { GrantKeeper } from './grant-keeper.js';
import type { Failure } from './lifecycle.js';
import type { StoredGrant, TokenStore } from './store.js';
import { isTenantId, requestTenant } from './tenant-id.js';
import { TenantResolver } from './tenant-resolver.js';

/** What the proxy injects; `tokenId` lets a 401 invalidate exactly the token it was answered to. */
export interface Authorization {
  readonly header: string;
  readonly tokenId: number;
  /** The header it goes in when not `authorization` (a described provider's `send.header`). */
  readonly name?: string;
}

export interface RouteTokenState {
  readonly route: string;
  readonly provider: string;
  readonly state: 'static' | 'empty' | 'valid' | 'refreshing' | 'failing' | 'rejected' | 'tenants';
  /** Tenant routes: tenants whose credentials are held now, and how many of them stand rejected. */
  readonly tenants?: { readonly cached: number; readonly rejected: number };
  /** A token request is in flight right now (also while failing or rejected: a retry). */
  readonly refreshing: boolean;
  /** A rotated grant the store has not accepted yet (retried until it lands). */
  readonly unsaved?: true;
  readonly validUntil?: string;
  readonly failingSince?: string;
  readonly reason?: string;
}

export interface ProviderSettings extends RefreshSettings {
  readonly maxEntries: number;
  /** The longest an app request waits for a token (timeouts.token), another replica's included. */
  readonly requestWait: number;
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
  readonly settings: ProviderSettings;
  readonly random?: () => number;
  /** Watches a secret file; returns a function that stops watching. Injected for tests. */
  readonly watch?: (file: string, onChange: () => void) => () => void;
}

interface RouteEntry {
  readonly route: RouteConfig;
  readonly key: string;
  readonly static?: string;
  /** The route's first token attempt (fetched at start) has ended, success or failure. */
  attempted: boolean;
  readonly hit: { inc(): void };
  /** Tenant routes: tenant `id`'s credential key is this prefix followed by the id. */
  readonly tenantKeyPrefix?: string;
}

/**
 * Creates each route's refresh, cache and retry series at 0, so `increase()` in alerts sees the very
 * first failure (a counter that appears at 1 has no increase to show).
 */
function zeroSeries(metrics: Metrics, route: RouteConfig): void {
  const grants = new Set<string>();
  const credentials = route.credentials.read();
  const urls = { tokenUrl: route.tokenUrl, refreshUrl: route.refreshUrl };
  try {
    if (route.dialect.initialGrant(credentials, urls)) grants.add('client_credentials');
  } catch {
    // A tenant route has no credentials of its own: an initial grant that needs them exists.
    grants.add('client_credentials');
  }
  if (route.dialect.refreshGrant) grants.add('refresh_token');
  for (const grant of grants) {
    for (const result of ['success', 'rejected', 'error']) metrics.tokenRefresh.inc({ route: route.name, provider: route.provider, grant, result }, 0);
  }
  for (const result of ['hit', 'miss', 'coalesced']) metrics.tokenCache.inc({ route: route.name, result }, 0);
  metrics.upstreamRetries.inc({ route: route.name, reason: 'unauthorized' }, 0);
  metrics.grantUnsaved.set({ route: route.name }, 0);
  for (const operation of ['get', 'set', 'lock']) metrics.storeErrors.inc({ route: route.name, operation }, 0);
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
 * the request path, fetched single-flight when missing, refreshed ahead of expiry in the
 * background. A credential that is refreshing or holds an unsaved grant is never evicted, and
 * what must outlive an entry (the grant's chain, an unsaved grant, a 401'd token) lives in its
 * GrantKeeper, kept per key.
 */
export class TokenProvider {
  readonly #deps: TokenProviderDeps;
  readonly #routes = new Map<string, RouteEntry>();
  readonly #credentials: LRUCache<string, Credential>;
  /** Evicted while busy: kept alive (and found again) until their work is done. */
  readonly #retiring = new Map<string, Credential>();
  readonly #keepers = new Map<string, GrantKeeper>();
  /** Reads tenant folders; remembers API-key tenants and invalid folders for a moment. */
  readonly #tenants: TenantResolver;
  readonly #unwatch: Array<() => void> = [];
  #stopping = false;

  constructor(deps: TokenProviderDeps) {
    this.#deps = deps;
    this.#credentials = new LRUCache<string, Credential>({
      max: deps.settings.maxEntries,
      dispose: (credential, key, reason) => {
        if (reason !== 'evict') {
          if (reason !== 'set') void credential.stop();
        } else if (credential.busy) {
          this.#retire(key, credential);
        } else {
          this.#evicted(key, credential);
        }
      },
    });
    this.#tenants = new TenantResolver(deps.settings.maxEntries, deps.logger);
    for (const route of deps.routes) {
      const hit = deps.metrics.tokenCache.labels({ route: route.name, result: 'hit' });
      if (route.tenants) {
        const tenantKeyPrefix = [credentialKey(route), `tenants=${route.tenants.directory}`, 'tenant='].join('\u0000');
        this.#routes.set(route.name, { route, key: tenantKeyPrefix, attempted: true, hit, tenantKeyPrefix });
        zeroSeries(deps.metrics, route);
        continue;
      }
      const staticHeader = route.dialect.staticAuthorization?.(route.credentials.read());
      this.#routes.set(route.name, { route, key: credentialKey(route), attempted: staticHeader !== undefined, hit, ...(staticHeader === undefined ? {} : { static: staticHeader }) });
      if (staticHeader === undefined) zeroSeries(deps.metrics, route);
    }
  }

  /** Fetches every route's token in the background and starts watching secret files and the store. */
  start(options: { eager: boolean }): void {
    const { store } = this.#deps;
    const watch = this.#deps.watch ?? pollFile;
    for (const entry of this.#routes.values()) {
      const { route } = entry;
      if (entry.tenantKeyPrefix !== undefined) continue;
      for (const file of route.credentials.files) this.#unwatch.push(watch(file, () => this.#secretsChanged(route)));
      if (entry.static !== undefined) continue;
      if (!options.eager) entry.attempted = true;
      else void this.#credential(entry.key, route).refresh('startup').then(() => (entry.attempted = true));
    }
    if (store.onChange) this.#unwatch.push(store.onChange((key, grant) => this.#storeChanged(key, grant)));
    if (store.onReconnect) this.#unwatch.push(store.onReconnect(() => this.#reseedAll()));
  }

  /** Every route fetched at start has finished its first token attempt. */
  started(): boolean {
    for (const entry of this.#routes.values()) if (!entry.attempted) return false;
    return true;
  }

  /**
   * The `Authorization` for a route: synchronous on a cache hit; only a missing or expired token
   * waits, on the one fetch in flight, and never longer than `requestWait`. Throws (or rejects
   * with) SidecarError when no valid token can be had.
   */
  authorization(routeName: string, tenant?: string): Authorization | Promise<Authorization> {
    const entry = this.#routes.get(routeName);
    if (!entry) throw new Error(`unknown route ${routeName}`);
    if (entry.static !== undefined) return { header: entry.static, tokenId: 0 };
    const credential = entry.tenantKeyPrefix === undefined ? this.#credential(entry.key, entry.route) : this.#tenant(entry, entry.tenantKeyPrefix, tenant);
    if (!(credential instanceof Credential)) {
      entry.hit.inc();
      return credential;
    }
    const current = credential.current(this.#deps.clock.now());
    if (current.kind === 'token') {
      entry.hit.inc();
      return current.token.authorization;
    }
    if (current.kind === 'failure') throw this.#failureError(routeName, current.failure, credential.state.kind === 'rejected');
    this.#deps.metrics.tokenCache.inc({ route: routeName, result: current.started ? 'miss' : 'coalesced' });
    return this.#wait(routeName, credential, current.until);
  }

  async #wait(routeName: string, credential: Credential, until: Promise<void>): Promise<Authorization> {
    const { clock, settings } = this.#deps;
    let timer: unknown;
    await Promise.race([until, new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, settings.requestWait)))]);
    clock.clearTimeout(timer);
    const token = credential.usable(clock.now());
    if (token) return token.authorization;
    const state = credential.state;
    const failure = state.kind === 'failing' || state.kind === 'rejected' ? state.failure : undefined;
    throw this.#failureError(routeName, failure, state.kind === 'rejected', credential.inflight !== undefined);
  }

  /** After an upstream 401: true to retry with a fresh token (see Credential.unauthorized). */
  unauthorized(routeName: string, tokenId: number, tenant?: string): boolean {
    if (tokenId === 0) return false;
    return this.#existing(this.#entry(routeName), tenant)?.unauthorized(tokenId) ?? false;
  }

  /** The retry after a 401 came back; `unauthorized` when it was a 401 again. */
  retried(routeName: string, tokenId: number, unauthorized: boolean, tenant?: string): void {
    if (tokenId !== 0) this.#existing(this.#entry(routeName), tenant)?.retried(tokenId, unauthorized);
  }

  /** Per-route token state for /readyz; no secrets. */
  states(): RouteTokenState[] {
    const now = this.#deps.clock.now();
    return [...this.#routes.values()].map(({ route, key, static: isStatic, tenantKeyPrefix }) => {
      if (tenantKeyPrefix !== undefined) return this.#tenantsState(route, tenantKeyPrefix);
      const credential = this.#credentials.peek(key) ?? this.#retiring.get(key);
      const base = {
        route: route.name,
        provider: route.provider,
        refreshing: credential?.inflight !== undefined,
        ...(this.#keepers.get(key)?.unsaved ? { unsaved: true as const } : {}),
      };
      if (isStatic !== undefined) return { ...base, state: 'static' as const };
      const token = credential?.usable(now);
      const state = credential?.state;
      const validUntil = token ? { validUntil: new Date(token.expiresAt).toISOString() } : {};
      if (state?.kind === 'failing' || state?.kind === 'rejected') {
        return { ...base, ...validUntil, state: state.kind, failingSince: new Date(state.failure.since).toISOString(), reason: state.failure.reason };
      }
      if (credential?.inflight) return { ...base, ...validUntil, state: 'refreshing' as const };
      return { ...base, ...validUntil, state: token ? ('valid' as const) : ('empty' as const) };
    });
  }

  /**
   * Shutdown that loses nothing: timers stop, in-flight refreshes are awaited (bounded by
   * `boundMs`, the token timeout), unsaved grants get a last write, then leases are released.
   */
  async stop(boundMs = 0): Promise<void> {
    this.#stopping = true;
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
    const credentials = [...this.#credentials.values(), ...this.#retiring.values()];
    await Promise.all(credentials.map((credential) => credential.stop(boundMs)));
    await Promise.all([...this.#keepers.values()].map(async (keeper) => {
      await keeper.flush();
      await keeper.stop();
    }));
    this.#credentials.clear();
    this.#retiring.clear();
    this.#tenants.clear();
  }

  #entry(routeName: string): RouteEntry {
    const entry = this.#routes.get(routeName);
    if (!entry) throw new Error(`unknown route ${routeName}`);
    return entry;
  }

  #keeper(key: string, route: RouteConfig): GrantKeeper {
    let keeper = this.#keepers.get(key);
    if (!keeper) {
      const { store, clock, logger, metrics, settings } = this.#deps;
      keeper = new GrantKeeper({ key, route: () => route.name, store, clock, logger, metrics, retry: { initialMs: settings.backoffInitial, maxMs: settings.backoffMax }, reseedHoldMs: store.lock ? settings.lockWait : 0 });
      this.#keepers.set(key, keeper);
    }
    return keeper;
  }

  /** The credential under `key`: cached, back from retiring, or new for `route` (a tenant's own view of its route). */
  #credential(key: string, route: RouteConfig): Credential {
    let credential = this.#credentials.get(key);
    if (!credential) {
      credential = this.#retiring.get(key);
      if (credential) {
        this.#retiring.delete(key);
      } else {
        const { client, dispatcherFor, store, clock, metrics, logger, settings } = this.#deps;
        credential = new Credential(key, route, {
          client, store, clock, metrics, logger, settings,
          keeper: this.#keeper(key, route),
          dispatcher: dispatcherFor(route),
          random: this.#deps.random ?? Math.random,
        });
        if (this.#stopping) void credential.stop();
        // Routes that share a credential share its token and its rotating refresh token.
        for (const other of this.#routes.values()) {
          if (other.key === key && other.route !== route) credential.routes.push(other.route);
        }
      }
      this.#credentials.set(key, credential);
      this.#countEntries();
    }
    return credential;
  }

  /**
   * The credential (or static API key) of the tenant a request names. A tenant not held is read
   * from its folder now, so one that appeared since the start is served; a rejected one is
   * compared with its folder at most every TENANT_RECHECK_MS, so fixed credentials are tried at once.
   */
  #tenant(entry: RouteEntry, prefix: string, raw: string | undefined): Credential | Authorization {
    const { route } = entry;
    const id = requestTenant(route.name, raw);
    const key = prefix + id;
    const now = this.#deps.clock.now();
    const held = this.#credentials.get(key) ?? this.#retiring.get(key);
    if (held) {
      if (held.state.kind === 'rejected' && TenantResolver.fixed(held.primary, now)) held.secretsChanged();
      // One held only while retiring goes back into the LRU.
      return this.#credentials.has(key) ? held : this.#credential(key, held.primary);
    }
    const found = this.#tenants.resolve(route, id, key, now);
    return found.kind === 'static' ? found.authorization : this.#credential(key, found.route);
  }

  /** The credential a 401 is reported for, never creating one (a tenant's may have been evicted meanwhile). */
  #existing(entry: RouteEntry, tenant: string | undefined): Credential | undefined {
    if (entry.tenantKeyPrefix === undefined) return this.#credential(entry.key, entry.route);
    if (tenant === undefined || !isTenantId(tenant)) return undefined;
    const key = entry.tenantKeyPrefix + tenant;
    return this.#credentials.peek(key) ?? this.#retiring.get(key);
  }

  #tenantsState(route: RouteConfig, prefix: string): RouteTokenState {
    let cached = 0;
    let rejected = 0;
    let refreshing = false;
    for (const [key, credential] of [...this.#credentials.entries(), ...this.#retiring.entries()]) {
      if (!key.startsWith(prefix)) continue;
      cached += 1;
      if (credential.state.kind === 'rejected') rejected += 1;
      if (credential.inflight) refreshing = true;
    }
    return { route: route.name, provider: route.provider, state: 'tenants', refreshing, tenants: { cached, rejected } };
  }

  /** The cache-entries gauge: credentials held, evicted ones still finishing their work included. */
  #countEntries(): void {
    this.#deps.metrics.tokenCacheEntries.set(this.#credentials.size + this.#retiring.size);
  }

  /** An evicted credential that is still refreshing or holds an unsaved grant finishes its work first. */
  #retire(key: string, credential: Credential): void {
    this.#retiring.set(key, credential);
    const check = async () => {
      while (credential.busy && this.#retiring.get(key) === credential && !this.#stopping) {
        await (credential.inflight ?? new Promise((resolve) => setTimeout(resolve, 1_000).unref()));
      }
      if (this.#retiring.get(key) === credential) {
        this.#retiring.delete(key);
        this.#evicted(key, credential);
        this.#countEntries();
      }
    };
    void check();
  }

  #evicted(key: string, credential: Credential): void {
    void credential.stop();
    if (this.#keepers.get(key)?.evicted()) this.#keepers.delete(key);
  }

  /** Another replica wrote a grant: its chain is known at once (even mid-refresh), its token adopted. */
  #storeChanged(key: string, grant: StoredGrant | undefined): void {
    this.#keepers.get(key)?.absorb(grant);
    (this.#credentials.peek(key) ?? this.#retiring.get(key))?.adoptWritten(grant);
  }

  /** The store reconnected (it may have restarted empty): write back every chain this process holds. */
  #reseedAll(): void {
    for (const keeper of this.#keepers.values()) if (keeper.chain) void keeper.read();
  }

  #secretsChanged(route: RouteConfig): void {
    this.#deps.logger.info({ event: 'secret_changed', route: route.name }, 'a secret file of the route changed');
    const key = this.#routes.get(route.name)?.key ?? '';
    (this.#credentials.peek(key) ?? this.#retiring.get(key))?.secretsChanged();
  }

  #failureError(routeName: string, failure: Failure | undefined, rejected: boolean, stillFetching = false): SidecarError {
    const retryAfterSeconds = failure && !stillFetching ? Math.max(1, (failure.nextAttemptAt - this.#deps.clock.now()) / 1000) : 1;
    if (rejected) return new SidecarError('token_rejected', { route: routeName, detail: `token endpoint rejected the credentials (${failure?.reason ?? 'rejected'})` });
    const why = stillFetching ? 'the token request (or another replica holding its lock) has not answered yet' : (failure?.reason ?? 'fetch failed');
    return new SidecarError('token_unavailable', { route: routeName, retryAfterSeconds, detail: `no valid token (${why})` });
  }
}
