import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { authenticate, type ApiCredentials } from './api-auth.js';
import { preemptApi, sendStatus, sendUnauthorized } from './api-faults.js';
import type { RateLimiter } from './api-ratelimit.js';
import type { FaultSlot } from './fault-slot.js';
import { countBody, sendJson, streamChunks } from './http.js';
import type { Lifecycle } from './lifecycle.js';
import type { TokenOwner } from './tokens.js';
import type { ApiFault, EmulatorStats } from './types.js';

export interface ApiContext extends ApiCredentials {
  provider: string;
  stats: EmulatorStats;
  faults: FaultSlot<ApiFault>;
  lifecycle: Lifecycle;
  /** The provider's documented rate limit (Cobee, Light): headers on every answer, 429 past it. */
  rateLimiter: RateLimiter | undefined;
}

/** One protected-API request; `subPath` is the path below the API base, query excluded. */
export async function serveApi(req: IncomingMessage, res: ServerResponse, subPath: string, context: ApiContext): Promise<void> {
  const { stats } = context;
  stats.apiRequests += 1;
  if (await preemptApi(context.faults.take(), req, res, stats, context.lifecycle)) return;
  const owner = authenticate(req, context);
  if (owner === undefined) {
    req.resume();
    return sendUnauthorized(res, stats);
  }
  stats.apiAuthorized += 1;
  if (context.rateLimiter?.take(owner.clientId, res)) {
    req.resume();
    return;
  }

  if (subPath === '/echo') return echo(req, res, owner);
  const bytes = /^\/bytes\/(\d{1,15})$/.exec(subPath);
  if (bytes !== null) return sendBytes(req, res, Number(bytes[1]));
  const status = /^\/status\/(\d{3})$/.exec(subPath);
  if (status !== null) {
    req.resume();
    const code = Number(status[1]);
    if (code < 200 || code > 599) return sendJson(res, 400, { message: 'status must be between 200 and 599' });
    return sendStatus(res, code, stats);
  }
  if (subPath === '/ws') {
    req.resume();
    return sendJson(res, 426, { message: 'Upgrade Required' }, { upgrade: 'websocket', connection: 'Upgrade' });
  }
  return whoami(req, res, owner, context);
}

/** The body back byte for byte, with what the emulator saw of the request in x-emulator-* headers. */
async function echo(req: IncomingMessage, res: ServerResponse, owner: TokenOwner): Promise<void> {
  const headers: Record<string, string> = {
    'x-emulator-client-id': owner.clientId,
    'x-emulator-method': req.method ?? '',
    'x-emulator-path': req.url ?? '',
  };
  if (req.headers.host !== undefined) headers['x-emulator-host'] = req.headers.host;
  if (req.headers['content-type'] !== undefined) headers['content-type'] = req.headers['content-type'];
  if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
  res.writeHead(200, headers);
  await pipeline(req, res).catch(() => undefined);
}

const PATTERN = Buffer.from(Array.from({ length: 251 * 256 }, (_, i) => i % 251));

/** n bytes where byte i is i % 251, streamed in chunks. */
async function sendBytes(req: IncomingMessage, res: ServerResponse, n: number): Promise<void> {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
  function* chunks(): Generator<Buffer> {
    // Every chunk but the last is PATTERN.length long, a multiple of 251, so each starts at i % 251 = 0.
    for (let left = n; left > 0; left -= PATTERN.length) yield left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left);
  }
  await streamChunks(res, chunks());
}

async function whoami(req: IncomingMessage, res: ServerResponse, owner: TokenOwner, context: ApiContext): Promise<void> {
  const bodyBytes = await countBody(req);
  const headers: Record<string, string | string[] | undefined> = { ...req.headers };
  delete headers.authorization;
  if (context.sends !== undefined) delete headers[context.sends.header];
  sendJson(res, 200, {
    provider: context.provider,
    clientId: owner.clientId,
    ...(owner.companyId === undefined ? {} : { companyId: owner.companyId }),
    method: req.method,
    path: req.url,
    headers,
    bodyBytes,
  });
}
