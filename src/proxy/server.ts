import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from '../config/load.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { methodLabel, UNMATCHED_ROUTE, type Metrics } from '../metrics/metrics.js';
import { asSidecarError, sendError, sendErrorOnSocket } from './answer.js';
import { Disconnect } from './exchange.js';
import type { Forwarder } from './forward.js';
import type { GuardVerdict, RequestGuard } from './request-guard.js';
import type { Router } from './router.js';
import type { WebSocketForwarder } from './websocket.js';

export interface ProxyServerDeps {
  readonly router: Router;
  /** SPEC §2 `guard`: asked before routing, so a refused request never touches a token. */
  readonly guard: RequestGuard;
  readonly forwarder: Forwarder;
  readonly websockets: Pick<WebSocketForwarder, 'upgrade'>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly accessLog: boolean;
  /** The app's request head, and its whole request, must arrive within these (ms; request 0: no limit). */
  readonly appTimeouts: { readonly headers: number; readonly request: number };
  /** Counts requests in flight across listeners, for graceful shutdown. */
  readonly inflight: { count: number; draining: boolean; onIdle?: () => void };
}

/** A proxy listener: the main one (`/<route>/...`) or a route's own port (`ownRoute`). */
export function createProxyServer(deps: ProxyServerDeps, ownRoute?: RouteConfig): Server {
  const { router, forwarder, websockets, metrics, logger, inflight } = deps;

  /** One answer settled (plain or upgrade): drain accounting, metrics, access log. */
  function settle(route: string, method: string | undefined, code: string, started: bigint): void {
    inflight.count -= 1;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.requests.inc({ route, method: methodLabel(method), code });
    metrics.requestDuration.observe({ route }, seconds);
    if (deps.accessLog) logger.info({ event: 'access', route, method, status: Number(code), durationMs: Math.round(seconds * 1000) });
    if (inflight.draining && inflight.count === 0) inflight.onIdle?.();
  }

  /** The guard's verdict; a refusal is logged with the check that made it (the answer says only forbidden_request). */
  function admit(req: IncomingMessage): GuardVerdict {
    const verdict = deps.guard.check(req.method, req.headers);
    if (verdict.kind === 'refuse') logger.info({ event: 'request_forbidden', check: verdict.check, method: req.method, detail: verdict.error.message });
    return verdict;
  }

  function failed(route: string, error: unknown): SidecarError {
    const failure = asSidecarError(error, route === UNMATCHED_ROUTE ? undefined : route);
    if (failure.status >= 500) logger.warn({ event: 'request_failed', route, error: failure.code, detail: failure.message });
    return failure;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let route = UNMATCHED_ROUTE;
    inflight.count += 1;
    if (inflight.draining) res.setHeader('connection', 'close');
    // The request's one `close` listener: an app that leaves first aborts the upstream request and counts 499.
    const disconnect = new Disconnect();
    res.once('close', () => {
      if (!res.writableFinished) disconnect.abort();
      settle(route, req.method, res.writableFinished ? String(res.statusCode) : '499', started);
    });
    try {
      const verdict = admit(req);
      if (verdict.kind === 'refuse') throw verdict.error;
      // A CORS preflight is never forwarded: the guard answered it.
      if (verdict.kind === 'preflight') return void res.writeHead(204, verdict.headers).end();
      const match = router.match(req.url, ownRoute);
      route = match.route.name;
      await forwarder.forward(req, res, match, disconnect);
    } catch (error) {
      if (!disconnect.left) sendError(res, failed(route, error));
    }
  }

  const { headers: headersTimeout, request: requestTimeout } = deps.appTimeouts;
  // Node checks these timeouts every connectionsCheckingInterval (30 s by default): check often enough to keep them.
  const connectionsCheckingInterval = Math.max(100, Math.min(1_000, headersTimeout / 2));
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout, requestTimeout, connectionsCheckingInterval }, (req, res) => void handle(req, res));
  // Expect: 100-continue is answered by the forwarder once the token is in hand, not by Node at once.
  server.on('checkContinue', (req, res) => void handle(req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void upgrade(req, socket, head));

  /** An upgrade counts like a request while its handshake runs (101 once upgraded, 499 if the app left). */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    let route = UNMATCHED_ROUTE;
    inflight.count += 1;
    socket.on('error', () => socket.destroy());
    let code = '499';
    try {
      const verdict = admit(req);
      if (verdict.kind !== 'pass') throw verdict.kind === 'refuse' ? verdict.error : new SidecarError('forbidden_request', { detail: 'a CORS preflight cannot upgrade' });
      const match = router.match(req.url, ownRoute);
      route = match.route.name;
      const status = await websockets.upgrade(req, socket, head, match);
      if (status !== undefined) code = String(status);
    } catch (error) {
      const failure = failed(route, error);
      if (!socket.destroyed) {
        sendErrorOnSocket(socket, failure);
        code = String(failure.status);
      }
    }
    settle(route, req.method, code, started);
  }
  // A proxy that tunnels CONNECT could carry a token anywhere: refuse it.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    sendErrorOnSocket(socket, new SidecarError('bad_request', { detail: 'CONNECT is not supported' }));
  });
  return server;
}
