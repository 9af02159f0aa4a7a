import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenSource } from './forward.js';
import { upgradeResponseHead, upstreamRequestHeaders } from './headers.js';
import type { UpstreamPools } from './pools.js';
import type { RouteMatch } from './router.js';
import { attemptUpgrade } from './upgrade-attempt.js';
import { classifyUpstreamFailure, upstreamError } from './upstream-failures.js';

export interface WebSocketDeps {
  readonly pools: UpstreamPools;
  readonly tokens: TokenSource;
  readonly metrics: Metrics;
  /** Route names: each gets its gauge series at 0 from the start. */
  readonly routes: readonly string[];
}

/**
 * Carries `Upgrade` requests (WebSockets) like every request: undici's upgrade on the route's
 * pool, the shared header hygiene, the route's token with one fresh-token retry after a 401.
 * Resolves with the status the app got (101 once upgraded), or undefined if the app left.
 */
export class WebSocketForwarder {
  readonly #deps: WebSocketDeps;
  /** Upgraded sockets, both sides: the HTTP server stops tracking them, so shutdown closes them here. */
  readonly #sockets = new Set<Duplex>();

  constructor(deps: WebSocketDeps) {
    this.#deps = deps;
    for (const route of deps.routes) deps.metrics.websockets.set({ route }, 0);
  }

  async upgrade(req: IncomingMessage, app: Duplex, head: Buffer, match: RouteMatch): Promise<number | undefined> {
    const { tokens, pools } = this.#deps;
    const route = match.route.name;
    const pool = pools.upstream(match.route);
    const protocol = req.headers.upgrade ?? 'websocket';
    let authorization = await tokens.authorization(route);
    let mayRetry = true;
    for (;;) {
      const holdUnauthorized = () => mayRetry && tokens.unauthorized(route, authorization.tokenId);
      let result;
      try {
        result = await attemptUpgrade(pool, { path: match.upstreamPath, headers: upstreamRequestHeaders(req.rawHeaders, req.headers.connection, authorization.header, authorization.name), protocol, holdUnauthorized }, app);
      } catch (error) {
        const failure = classifyUpstreamFailure(error);
        if (app.destroyed || failure === 'app_left') return undefined;
        throw upstreamError(failure, error, route);
      }
      if (!mayRetry) tokens.retried(route, authorization.tokenId, result.kind === 'answered' && result.status === 401);
      if (result.kind === 'answered') return result.status;
      if (result.kind === 'upgraded') {
        this.#join(route, app, head, result.upstream, upgradeResponseHead(result.headers));
        return 101;
      }
      mayRetry = false;
      this.#deps.metrics.upstreamRetries.inc({ route, reason: 'unauthorized' });
      authorization = await tokens.authorization(route);
    }
  }

  /** Splices the two sockets; either closing or failing closes both, and the gauge follows. */
  #join(route: string, app: Duplex, head: Buffer, upstream: Duplex, answer: string): void {
    if (app.destroyed) {
      upstream.destroy();
      return;
    }
    const gauge = this.#deps.metrics.websockets;
    gauge.inc({ route });
    this.#sockets.add(app);
    this.#sockets.add(upstream);
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      gauge.dec({ route });
      this.#sockets.delete(app);
      this.#sockets.delete(upstream);
      app.destroy();
      upstream.destroy();
    };
    app.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
    app.write(answer);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(app);
    app.pipe(upstream);
  }

  /** Closes every carried WebSocket (server.close() would otherwise wait on them for ever). */
  close(): void {
    for (const socket of [...this.#sockets]) socket.destroy();
    this.#sockets.clear();
  }
}
