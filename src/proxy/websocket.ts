import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../log.js';
import { asSidecarError, sendErrorOnSocket } from './answer.js';
import type { TokenSource } from './forward.js';
import type { RouteMatch } from './router.js';

/** Carries WebSocket `Upgrade` requests with http-proxy-3, injecting the route's token. */
export class WebSocketForwarder {
  readonly #proxy = createProxyServer({ ws: true, changeOrigin: true, secure: true, xfwd: false });
  readonly #tokens: TokenSource;
  /** Upgraded sockets: the HTTP server stops tracking them, so shutdown must close them here. */
  readonly #sockets = new Set<Duplex>();

  constructor(tokens: TokenSource, logger: Logger) {
    this.#tokens = tokens;
    this.#proxy.on('error', (error, _req, target) => {
      logger.warn({ event: 'websocket_error', error: (error as Error).message });
      if (target && 'writable' in target && (target as Duplex).writable && !('headersSent' in target)) {
        sendErrorOnSocket(target as Duplex, asSidecarError(error));
      }
    });
  }

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, match: RouteMatch): Promise<void> {
    const { route } = match;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const authorization = await this.#tokens.authorization(route.name);
    req.url = match.upstreamPath;
    delete req.headers.authorization;
    this.#proxy.ws(req, socket, head, {
      target: route.upstream.origin,
      headers: { authorization: authorization.header },
      ...(route.ca === undefined ? {} : { ca: route.ca }),
    });
  }

  /** Closes every proxied WebSocket (server.close() would otherwise wait on them for ever). */
  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#proxy.close();
  }
}
