import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdminServer } from './admin/server.js';
import type { SidecarConfig } from './config/load.js';
import { exposedListeners } from './config/loopback.js';
import type { HostPort } from './config/schema.js';
import { silentLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { Forwarder } from './proxy/forward.js';
import { UpstreamPools } from './proxy/pools.js';
import { RateLimitGauges } from './proxy/rate-limit.js';
import { createRouter } from './proxy/router.js';
import { createRequestGuard } from './proxy/request-guard.js';
import { createProxyServer } from './proxy/server.js';
import { lazyWebSocketForwarder } from './proxy/websocket-lazy.js';
import { TokenClient } from './token/client.js';
import { systemClock, type Clock } from './token/clock.js';
import { TokenProvider } from './token/provider.js';
import type { TokenStore } from './token/store.js';
import { createStore, lockTtl } from './token/stores/index.js';

export interface AppOptions {
  readonly config: SidecarConfig;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly store?: TokenStore;
  readonly metrics?: Metrics;
}

export interface Addresses {
  readonly proxy: string;
  readonly admin: string;
  readonly routes: Record<string, string>;
}

function listen(server: Server, address: HostPort): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      resolve(bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
    });
  });
}

/**
 * The composition root: builds and wires the modules; no behaviour of its own. Async because the
 * store's module loads only when the config names it (the Redis client only for `store.type: redis`).
 */
export async function createApp(options: AppOptions) {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createMetrics();
  const store = options.store ?? (await createStore(config));
  const pools = new UpstreamPools({
    connections: config.upstream.connections,
    connectTimeout: config.timeouts.connect,
    headersTimeout: config.timeouts.upstreamHeaders,
    idleTimeout: config.timeouts.idle,
  });
  const tokens = new TokenProvider({
    routes: config.routes,
    client: new TokenClient({ timeoutMs: config.timeouts.token, maxTokenBytes: config.refresh.maxTokenSize, now: () => clock.now() }),
    dispatcherFor: (route) => pools.tokenEndpoint(route),
    store,
    clock,
    metrics,
    logger,
    settings: { ...config.refresh, maxEntries: config.cache.maxEntries, requestWait: config.timeouts.token, lockWait: lockTtl(config) },
  });
  const inflight: { count: number; draining: boolean; onIdle?: () => void } = { count: 0, draining: false };
  const websockets = lazyWebSocketForwarder({ pools, tokens, metrics, routes: config.routes.map((route) => route.name) });
  const proxyDeps = {
    router: createRouter(config.routes),
    guard: createRequestGuard(config.guard),
    forwarder: new Forwarder({ pools, tokens, metrics, rateLimits: new RateLimitGauges(metrics, () => clock.now()), now: () => clock.now(), retryBodyLimit: config.upstream.retryBodyLimit }),
    websockets,
    metrics,
    logger,
    accessLog: config.accessLog,
    appTimeouts: { headers: config.timeouts.appHeaders, request: config.timeouts.appRequest },
    inflight,
  };
  const mainServer = createProxyServer(proxyDeps);
  const routeServers = config.routes.filter((route) => route.listen).map((route) => ({ route, server: createProxyServer(proxyDeps, route) }));
  let accepting = false;
  const admin = createAdminServer({ metrics, states: () => tokens.states(), accepting: () => accepting, started: () => tokens.started(), failOnRejected: config.readiness.failOnRejected });

  return {
    metrics,
    tokens,

    async start(): Promise<Addresses> {
      const adminAddress = await listen(admin, config.admin);
      const proxy = await listen(mainServer, config.listen);
      const routes: Record<string, string> = {};
      for (const { route, server } of routeServers) routes[route.name] = await listen(server, route.listen as HostPort);
      tokens.start({ eager: config.refresh.eager });
      accepting = true;
      for (const { ownRoute, ...exposed } of exposedListeners(config)) {
        // `bound`: the address it took (the port the OS chose for a configured 0).
        const bound = ownRoute === undefined ? proxy : routes[ownRoute];
        logger.warn({ event: 'listener_exposed', ...exposed, bound }, `${exposed.listener} ${bound} is off loopback (guard.allowNonLoopback): whatever reaches it can spend the tokens of ${exposed.routes.join(', ') || 'no route'}`);
      }
      // `routes` names every route; `routeListeners` only those with their own `listen`.
      const names = config.routes.map((route) => route.name);
      logger.info({ event: 'listening', proxy, admin: adminAddress, routes: names, routeListeners: routes, node: process.version }, 'token-sidecar is serving');
      return { proxy, admin: adminAddress, routes };
    },

    /** Graceful stop: not ready, stop accepting, let in-flight requests finish (up to shutdownGrace). */
    async stop(): Promise<void> {
      accepting = false;
      inflight.draining = true;
      logger.info({ event: 'stopping', inflight: inflight.count, graceMs: config.shutdownGrace });
      const proxies = [mainServer, ...routeServers.map(({ server }) => server)];
      const closed = Promise.all(proxies.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const server of proxies) server.closeIdleConnections();
      const drained = new Promise<void>((resolve) => {
        if (inflight.count === 0) resolve();
        else inflight.onIdle = resolve;
      });
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<'grace'>((resolve) => {
        graceTimer = setTimeout(() => resolve('grace'), config.shutdownGrace);
      });
      const outcome = await Promise.race([drained.then(() => 'drained' as const), grace]);
      clearTimeout(graceTimer);
      const cut = inflight.count;
      for (const server of proxies) server.closeAllConnections();
      websockets.close();
      await closed;
      // In-flight refreshes finish (a rotation answered now is stored) and unsaved grants get a
      // last write before the token dispatchers and the store close.
      await tokens.stop(config.timeouts.token);
      await pools.close();
      await store.close();
      const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await adminClosed;
      logger.info({ event: 'stopped', outcome, cutRequests: outcome === 'grace' ? cut : 0 });
    },
  };
}

export type App = Awaited<ReturnType<typeof createApp>>;
