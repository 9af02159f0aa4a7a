import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorAnswer, SidecarError } from '../errors.js';

/**
 * Any failure as a SidecarError; anything else is a fault inside the sidecar (`internal`, 500),
 * never blamed on the upstream. Upstream transport failures are classified in forward.ts first.
 * SidecarErrors already carry their route (those without one come from the router, before a route is known).
 */
export function asSidecarError(error: unknown, route?: string): SidecarError {
  if (error instanceof SidecarError) return error;
  return new SidecarError('internal', { ...(route === undefined ? {} : { route }), detail: (error as Error)?.message ?? 'unexpected failure', cause: error });
}

/** Writes the JSON error answer of SPEC §4 (or cuts the connection if headers already went out). */
export function sendError(res: ServerResponse, error: SidecarError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const answer = errorAnswer(error);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** The same answer on a raw socket (upgrade and CONNECT requests have no ServerResponse). */
export function sendErrorOnSocket(socket: Duplex, error: SidecarError): void {
  const answer = errorAnswer(error);
  const head = [`HTTP/1.1 ${answer.status} ${error.code}`, ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`), 'connection: close'];
  socket.end(`${head.join('\r\n')}\r\n\r\n${answer.body}`);
}
