import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dialect } from './dialect.js';
import { clientGone, resetSocket, sendJson, streamChunks } from './http.js';
import type { Lifecycle } from './lifecycle.js';
import type { TokenFault } from './types.js';

// Two families of token faults. Transport faults (status, hang, reset, html, garbage) answer
// instead of the provider: the grant never runs, so no refresh token rotates. Body faults
// (nullToken, expiresIn, huge) let the grant run and spoil its 200 answer; an error answer
// goes out unchanged. `delay` waits, then serves normally unless the client has left by then.

const HTML_PAGE =
  '<!DOCTYPE html><html><head><title>Service notice</title></head>' +
  '<body><h1>We will be right back</h1><p>This page stands in for a captive portal or a WAF block page.</p></body></html>';

/** Serves a transport fault; true if the request needs nothing more. */
export async function preemptToken(
  fault: TokenFault | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  dialect: Dialect,
  lifecycle: Lifecycle,
): Promise<boolean> {
  switch (fault?.kind) {
    case undefined:
    case 'nullToken':
    case 'expiresIn':
    case 'huge':
      return false;
    case 'delay':
      await lifecycle.delay(fault.ms);
      return clientGone(res);
    case 'hang':
      return true; // close() destroys the socket
    case 'reset':
      resetSocket(req.socket);
      return true;
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_PAGE);
      return true;
    case 'garbage':
      res.writeHead(200, { 'content-type': dialect.contentType }).end('{"access_token": "eyJhbGciOi<<garbage>>');
      return true;
    case 'status': {
      const headers = lowerCaseKeys(fault.headers ?? {});
      if (fault.body === undefined) sendJson(res, fault.status, dialect.errorBody(fault.status), headers, dialect.contentType);
      else res.writeHead(fault.status, { 'content-type': dialect.contentType, ...headers }).end(fault.body);
      return true;
    }
  }
}

/** So a caller's `Content-Type` replaces ours instead of going out beside it. */
function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** Applies a body fault to a success body in place. */
export function spoilSuccess(fault: TokenFault | undefined, body: Record<string, unknown>, dialect: Dialect): void {
  if (fault?.kind === 'nullToken') body[dialect.fields.accessToken] = null;
  if (fault?.kind === 'expiresIn') body[dialect.fields.expiresIn] = fault.value;
}

const FILL = Buffer.alloc(64 * 1024, 'x');

/** A valid success body grown to `bytes` with a long `padding` string, streamed. */
export async function sendHuge(res: ServerResponse, body: Record<string, unknown>, bytes: number, contentType: string): Promise<void> {
  const text = JSON.stringify(body);
  const head = Buffer.from(`${text.slice(0, -1)},"padding":"`);
  const tail = Buffer.from('"}');
  const fill = Math.max(0, bytes - head.length - tail.length);
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(head.length + fill + tail.length) });
  function* chunks(): Generator<Buffer> {
    yield head;
    for (let left = fill; left > 0; left -= FILL.length) yield left >= FILL.length ? FILL : FILL.subarray(0, left);
    yield tail;
  }
  await streamChunks(res, chunks());
}
