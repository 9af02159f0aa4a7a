import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dialect } from './dialect.js';
import type { FaultSlot } from './fault-slot.js';
import { executeGrant, type GrantContext } from './grants.js';
import { pathOf, readBody, sendJson } from './http.js';
import type { Lifecycle } from './lifecycle.js';
import { countGrant } from './stats.js';
import { preemptToken, sendHuge, spoilSuccess } from './token-faults.js';
import type { EmulatorStats, TokenFault } from './types.js';

/** Token requests are tiny; anything longer is answered as a malformed body. */
const BODY_LIMIT = 64 * 1024;

export interface TokenEndpointContext {
  dialect: Dialect;
  stats: EmulatorStats;
  faults: FaultSlot<TokenFault>;
  lifecycle: Lifecycle;
  grants: GrantContext;
  omitExpiresIn: boolean;
}

/** One request to a token or refresh path: count, parse, maybe fault, run the grant, answer in the dialect. */
export async function serveToken(req: IncomingMessage, res: ServerResponse, context: TokenEndpointContext): Promise<void> {
  const { dialect, stats } = context;
  stats.tokenRequests += 1;
  const { body, overflow } = await readBody(req, BODY_LIMIT);
  const method = req.method ?? 'GET';
  const path = pathOf(req);
  const parsed = dialect.parse({ method, path, contentType: req.headers['content-type'], body, overflow });
  countGrant(stats, parsed.ok ? parsed.request.grant : parsed.grant);

  const fault = context.faults.take();
  if (await preemptToken(fault, req, res, dialect, context.lifecycle)) return;

  if (!parsed.ok) return sendJson(res, parsed.answer.status, parsed.answer.body, parsed.answer.headers, dialect.contentType);
  const outcome = executeGrant(parsed.request, context.grants);
  if (!outcome.ok) {
    const answer = dialect.failure(outcome.failure);
    return sendJson(res, answer.status, answer.body, answer.headers, dialect.contentType);
  }
  const success = dialect.success(outcome.tokens, context.omitExpiresIn);
  spoilSuccess(fault, success, dialect);
  if (fault?.kind === 'huge') return sendHuge(res, success, fault.bytes, dialect.contentType);
  sendJson(res, 200, success, { 'cache-control': 'no-store', pragma: 'no-cache' }, dialect.contentType);
}
