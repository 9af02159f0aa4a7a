import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientGone, resetSocket, sendJson } from './http.js';
import type { Lifecycle } from './lifecycle.js';
import type { ApiFault, EmulatorStats } from './types.js';

/** `{"status": code}`, or no body where HTTP allows none. */
export function sendStatus(res: ServerResponse, status: number, stats: EmulatorStats): void {
  if (status === 401) stats.apiUnauthorized += 1;
  sendJson(res, status, { status });
}

export function sendUnauthorized(res: ServerResponse, stats: EmulatorStats): void {
  stats.apiUnauthorized += 1;
  sendJson(res, 401, { message: 'Unauthorized' });
}

/** Serves an API fault before authentication; true if the request needs nothing more. */
export async function preemptApi(
  fault: ApiFault | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  stats: EmulatorStats,
  lifecycle: Lifecycle,
): Promise<boolean> {
  switch (fault?.kind) {
    case undefined:
      return false;
    case 'delay':
      await lifecycle.delay(fault.ms);
      return clientGone(res);
    case 'status':
      req.resume();
      sendStatus(res, fault.status, stats);
      return true;
    case 'unauthorized':
      req.resume();
      sendUnauthorized(res, stats);
      return true;
    case 'stall':
      req.resume(); // read the request, never answer; close() destroys the socket
      return true;
    case 'resetMidBody': {
      req.resume();
      const part = '{"data":"' + 'x'.repeat(1024);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(part.length * 8) });
      res.write(part, () => resetSocket(req.socket));
      return true;
    }
  }
}
