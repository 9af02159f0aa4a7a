import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';
import type { Authorization } from '../token/provider.js';
import { UpstreamExchange, type Disconnect, type ExchangeResult } from './exchange.js';
import { requestTenantHeader, upstreamRequestHeaders } from './headers.js';
import type { UpstreamPools } from './pools.js';
import type { RateLimitGauges } from './rate-limit.js';
import { isIdempotent, retryAfterMs } from './retry-after.js';
import type { RouteMatch } from './router.js';
import { classifyUpstreamFailure, upstreamError } from './upstream-failures.js';

/** The token side as the proxy sees it: a header value per route, and a way to report a 401. */
export interface TokenSource {
  /** Synchronous on a cache hit; a promise only when the token must be waited for. */
  authorization(route: string, tenant?: string): Authorization | Promise<Authorization>;
  /** An upstream answered 401 to this token: true to retry with a fresh one (the token is dropped if current). */
  unauthorized(route: string, tokenId: number, tenant?: string): boolean;
  /** The retry after a 401 came back; `unauthorized` when it was a 401 again. */
  retried(route: string, tokenId: number, unauthorized: boolean, tenant?: string): void;
}

export interface ForwarderDeps {
  readonly pools: UpstreamPools;
  readonly tokens: TokenSource;
  readonly metrics: Metrics;
  readonly rateLimits: RateLimitGauges;
  /** Bodies up to this size are buffered so a 401 (or a 429) can be retried. */
  readonly retryBodyLimit: number;
  /** Waits before a 429 retry; resolves early when the app leaves. Injected so tests need no real wait. */
  readonly wait?: (ms: number, disconnect: Disconnect) => Promise<void>;
  readonly now?: () => number;
}

type Body = { readonly kind: 'none' } | { readonly kind: 'buffered'; readonly data: Buffer } | { readonly kind: 'streamed' };
/** Shared, so a bodiless or streamed request allocates no Body. */
const NO_BODY: Body = { kind: 'none' };
const STREAMED: Body = { kind: 'streamed' };

/** Synchronous for a bodiless or streamed request (the hot path awaits nothing); a promise only to buffer. */
function readBody(req: IncomingMessage, limit: number): Body | Promise<Body> {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) return NO_BODY;
  if (chunked || Number(length) > limit) return STREAMED;
  return bufferBody(req);
}

async function bufferBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return { kind: 'buffered', data: Buffer.concat(chunks) };
}

/** Node's own test for an `Expect` it would have answered with 100 (we answer it: `checkContinue`). */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

function defaultWait(ms: number, disconnect: Disconnect): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      disconnect.onLeave(undefined);
      resolve();
    }, ms);
    disconnect.onLeave(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Why an upstream answer is held instead of sent on: a 401 to retry with a fresh token, a 429 to retry after its Retry-After. */
type Held = 'unauthorized' | { readonly waitMs: number };
/** The upstream status sent on to the app; a held 401 or 429 to retry; undefined (failed or aborted). */
type Outcome = ExchangeResult<Held>;

/**
 * Forwards one request on the route's keep-alive undici pool (one UpstreamExchange per attempt) and streams the answer back.
 * A 401 with a replayable body is retried once with a fresh token; with `retry429`, an
 * idempotent replayable request answered 429 is retried once after its Retry-After.
 */
export class Forwarder {
  readonly #deps: ForwarderDeps;
  readonly #wait: (ms: number, disconnect: Disconnect) => Promise<void>;
  readonly #now: () => number;

  constructor(deps: ForwarderDeps) {
    this.#deps = deps;
    this.#wait = deps.wait ?? defaultWait;
    this.#now = deps.now ?? Date.now;
  }

  async forward(req: IncomingMessage, res: ServerResponse, match: RouteMatch, disconnect: Disconnect): Promise<void> {
    const route = match.route.name;
    const { tokens } = this.#deps;
    const expectsContinue = req.headers.expect !== undefined && CONTINUE.test(req.headers.expect);
    const tenant = requestTenantHeader(req.headers, match.route.tenants?.header);
    let authorization: Authorization;
    try {
      // A cached token is returned as is: `await` only when the provider hands back a promise.
      const current = tokens.authorization(route, tenant);
      authorization = current instanceof Promise ? await current : current;
    } catch (error) {
      // The app waits for 100 before its body: answer now, it sends none, and the connection closes.
      if (expectsContinue) res.setHeader('connection', 'close');
      throw error;
    }
    if (expectsContinue) res.writeContinue();
    let body: Body;
    try {
      const read = readBody(req, this.#deps.retryBodyLimit);
      body = read instanceof Promise ? await read : read;
    } catch (error) {
      // The app left while its body was being read: nothing to answer, counted 499, never an upstream failure.
      if (disconnect.left || req.destroyed) return void res.destroy();
      throw error;
    }
    const replayable = body.kind !== 'streamed';
    let allow401 = replayable;
    let allow429 = replayable && match.route.retry429 !== undefined && isIdempotent(req.method);
    let tokenRetried = false;
    let outcome = await this.#send(req, res, match, tenant, authorization, body, allow401, allow429, disconnect);
    // At most one retry per reason: a 401 with a fresh token, a 429 after its Retry-After.
    while (outcome !== undefined && typeof outcome !== 'number') {
      if (outcome === 'unauthorized') {
        allow401 = false;
        tokenRetried = true;
        this.#deps.metrics.upstreamRetries.inc({ route, reason: 'unauthorized' });
        authorization = await tokens.authorization(route, tenant);
      } else {
        allow429 = false;
        this.#deps.metrics.upstreamRetries.inc({ route, reason: 'rate_limited' });
        await this.#wait(outcome.waitMs, disconnect);
        if (disconnect.left) return;
      }
      outcome = await this.#send(req, res, match, tenant, authorization, body, allow401, allow429, disconnect);
      if (tokenRetried && typeof outcome === 'number') {
        tokens.retried(route, authorization.tokenId, outcome === 401, tenant);
        tokenRetried = false;
      }
    }
  }

  async #send(req: IncomingMessage, res: ServerResponse, match: RouteMatch, tenant: string | undefined, authorization: Authorization, body: Body, retry401: boolean, retry429: boolean, signal: Disconnect): Promise<Outcome> {
    const route = match.route;
    const exchange = new UpstreamExchange<Held>(res, signal, (statusCode, headers) => {
      this.#deps.rateLimits.observe(route.name, headers);
      if (statusCode === 401 && retry401 && this.#deps.tokens.unauthorized(route.name, authorization.tokenId, tenant)) return 'unauthorized';
      if (statusCode === 429 && retry429) {
        const waitMs = retryAfterMs(headers, this.#now());
        if (waitMs !== undefined && waitMs <= (route.retry429?.maxWait ?? 0)) return { waitMs };
      }
      return undefined;
    });
    try {
      this.#deps.pools.upstream(route).dispatch(
        {
          path: match.upstreamPath,
          method: req.method as string,
          headers: upstreamRequestHeaders(req.rawHeaders, req.headers.connection, authorization.header, authorization.name, route.tenants?.header),
          body: body.kind === 'buffered' ? body.data : body.kind === 'streamed' ? req : null,
        },
        exchange,
      );
      return await exchange.done;
    } catch (error) {
      if (signal.left) return undefined;
      const failure = classifyUpstreamFailure(error);
      if (failure === 'app_left') {
        res.destroy();
        return undefined;
      }
      throw upstreamError(failure, error, route.name);
    }
  }
}
