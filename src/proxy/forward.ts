import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { SidecarError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Authorization } from '../token/provider.js';
import { appResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { UpstreamPools } from './pools.js';
import type { RouteMatch } from './router.js';

/** The token side as the proxy sees it: a header value per route, and a way to report a 401. */
export interface TokenSource {
  /** Synchronous on a cache hit; a promise only when the token must be waited for. */
  authorization(route: string): Authorization | Promise<Authorization>;
  /** An upstream answered 401 to this token: true to retry with a fresh one (the token is dropped if current). */
  unauthorized(route: string, tokenId: number): boolean;
  /** The retry after a 401 came back; `unauthorized` when it was a 401 again. */
  retried(route: string, tokenId: number, unauthorized: boolean): void;
}

export interface ForwarderDeps {
  readonly pools: UpstreamPools;
  readonly tokens: TokenSource;
  readonly metrics: Metrics;
  /** Bodies up to this size are buffered so a 401 can be retried with a fresh token. */
  readonly retryBodyLimit: number;
}

type Body = { kind: 'none' } | { kind: 'buffered'; data: Buffer } | { kind: 'streamed' };

function upstreamError(error: unknown, route: string): SidecarError {
  const code = (error as { code?: string }).code ?? 'unknown';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return new SidecarError('upstream_timeout', { route, detail: `upstream sent no headers in time (${code})` });
  return new SidecarError('upstream_unavailable', { route, detail: `upstream request failed (${code})` });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) return { kind: 'none' };
  if (chunked || Number(length) > limit) return { kind: 'streamed' };
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return { kind: 'buffered', data: Buffer.concat(chunks) };
}

/**
 * Aborts the upstream request when the app leaves. undici takes an EventEmitter as `signal`;
 * an AbortController with its listener costs ~5 µs per request here, this ~0.15 µs. It must
 * not have an `aborted` property: undici 8 takes any object with one for an AbortSignal and
 * calls its addEventListener.
 */
class Disconnect extends EventEmitter {
  left = false;

  abort(): void {
    this.left = true;
    this.emit('abort');
  }
}

/** A sink for the body of a 401 that will be retried. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

/**
 * Forwards one request on the route's keep-alive undici pool and streams the answer back.
 * A 401 with a replayable body is retried once with a fresh token.
 */
export class Forwarder {
  readonly #deps: ForwarderDeps;

  constructor(deps: ForwarderDeps) {
    this.#deps = deps;
  }

  async forward(req: IncomingMessage, res: ServerResponse, match: RouteMatch): Promise<void> {
    const route = match.route.name;
    const disconnect = new Disconnect();
    // An app that leaves aborts its upstream request at once; undici then frees the connection.
    res.once('close', () => {
      if (!res.writableFinished) disconnect.abort();
    });
    const body = await readBody(req, this.#deps.retryBodyLimit);
    const { tokens } = this.#deps;
    let authorization = await tokens.authorization(route);
    const first = await this.#send(req, res, match, authorization, body, body.kind !== 'streamed', disconnect);
    if (first !== 'held') return;
    this.#deps.metrics.upstreamRetries.inc({ route, reason: 'unauthorized' });
    authorization = await tokens.authorization(route);
    const second = await this.#send(req, res, match, authorization, body, false, disconnect);
    if (typeof second === 'number') tokens.retried(route, authorization.tokenId, second === 401);
  }

  /** The upstream status sent on to the app, `held` for a 401 held back for a retry, or undefined (failed or aborted). */
  async #send(req: IncomingMessage, res: ServerResponse, match: RouteMatch, authorization: Authorization, body: Body, mayRetry: boolean, signal: Disconnect): Promise<number | 'held' | undefined> {
    let outcome: number | 'held' | undefined;
    try {
      await this.#deps.pools.upstream(match.route).stream(
        {
          path: match.upstreamPath,
          method: req.method as string,
          headers: upstreamRequestHeaders(req.rawHeaders, req.headers.connection, authorization.header),
          body: body.kind === 'buffered' ? body.data : body.kind === 'streamed' ? req : null,
          signal,
        },
        ({ statusCode, headers }) => {
          if (statusCode === 401 && mayRetry && this.#deps.tokens.unauthorized(match.route.name, authorization.tokenId)) {
            outcome = 'held';
            return discard();
          }
          outcome = statusCode;
          res.writeHead(statusCode, appResponseHeaders(headers));
          return res;
        },
      );
    } catch (error) {
      if (signal.left) return undefined;
      // Headers already went out: the only honest signal left is to cut the answer short.
      if (res.headersSent) {
        res.destroy(error as Error);
        return undefined;
      }
      throw upstreamError(error, match.route.name);
    }
    return outcome;
  }
}
