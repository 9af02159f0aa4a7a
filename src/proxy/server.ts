import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from '../config/load.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { methodLabel, UNMATCHED_ROUTE, type Metrics } from '../metrics/metrics.js';
import { asSidecarError, sendError, sendErrorOnSocket } from './answer.js';
import type { Forwarder } from './forward.js';
import type { Router } from './router.js';
import type { WebSocketForwarder } from './websocket.js';

export interface ProxyServerDeps {
  readonly router: Router;
  readonly forwarder: Forwarder;
  readonly websockets: WebSocketForwarder;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly accessLog: boolean;
  /** Counts requests in flight across listeners, for graceful shutdown. */
  readonly inflight: { count: number; draining: boolean; onIdle?: () => void };
}

/** A proxy listener: the main one (`/<route>/...`) or a route's own port (`ownRoute`). */
export function createProxyServer(deps: ProxyServerDeps, ownRoute?: RouteConfig): Server {
  const { router, forwarder, websockets, metrics, logger, inflight } = deps;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let route = UNMATCHED_ROUTE;
    inflight.count += 1;
    if (inflight.draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inflight.count -= 1;
      const code = res.writableFinished ? String(res.statusCode) : '499';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requests.inc({ route, method: methodLabel(req.method), code });
      metrics.requestDuration.observe({ route }, seconds);
      if (deps.accessLog) logger.info({ event: 'access', route, method: req.method, status: Number(code), durationMs: Math.round(seconds * 1000) });
      if (inflight.draining && inflight.count === 0) inflight.onIdle?.();
    });
    try {
      const match = router.match(req.url, ownRoute);
      route = match.route.name;
      await forwarder.forward(req, res, match);
    } catch (error) {
      const failure = asSidecarError(error, route === UNMATCHED_ROUTE ? undefined : route);
      if (failure.status >= 500) logger.warn({ event: 'request_failed', route, error: failure.code, detail: failure.message });
      sendError(res, failure);
    }
  }

  const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => void handle(req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let route: string | undefined;
    try {
      const match = router.match(req.url, ownRoute);
      route = match.route.name;
      websockets.upgrade(req, socket, head, match).catch((error: unknown) => sendErrorOnSocket(socket, asSidecarError(error, route)));
    } catch (error) {
      sendErrorOnSocket(socket, asSidecarError(error, route));
    }
  });
  // A proxy that tunnels CONNECT could carry a token anywhere: refuse it.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    sendErrorOnSocket(socket, new SidecarError('bad_request', { detail: 'CONNECT is not supported' }));
  });
  return server;
}
