import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import { authenticate } from './api-auth.js';
import type { ApiContext } from './api.js';
import type { ApiFault } from './types.js';

/** A plain HTTP answer on a socket that asked to upgrade, then close. */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(text)}\r\n` +
      'connection: close\r\n\r\n' +
      text,
  );
}

/**
 * The API's `/ws` endpoint: a live credential upgrades, and every message comes back as
 * `<clientId>: <message>` (binary stays binary). API faults apply to upgrades too.
 */
export class WebSocketEcho {
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly context: ApiContext) {}

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { stats } = this.context;
    stats.apiRequests += 1;
    if (await this.preempt(this.context.faults.take(), socket)) return;
    const owner = authenticate(req, this.context);
    if (owner === undefined) {
      stats.apiUnauthorized += 1;
      return refuseUpgrade(socket, 401, { message: 'Unauthorized' });
    }
    stats.apiAuthorized += 1;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const prefix = Buffer.from(`${owner.clientId}: `);
      ws.on('error', () => ws.terminate()); // a bad frame must not become an uncaught exception
      ws.on('message', (data: RawData, isBinary: boolean) => {
        const parts = Array.isArray(data) ? data : [Buffer.isBuffer(data) ? data : Buffer.from(data)];
        ws.send(Buffer.concat([prefix, ...parts]), { binary: isBinary });
      });
    });
  }

  /** True if the fault answered (or dropped) the upgrade. */
  private async preempt(fault: ApiFault | undefined, socket: Duplex): Promise<boolean> {
    switch (fault?.kind) {
      case undefined:
        return false;
      case 'delay':
        await this.context.lifecycle.delay(fault.ms);
        return socket.destroyed;
      case 'status':
        if (fault.status === 401) this.context.stats.apiUnauthorized += 1;
        refuseUpgrade(socket, fault.status, { status: fault.status });
        return true;
      case 'unauthorized':
        this.context.stats.apiUnauthorized += 1;
        refuseUpgrade(socket, 401, { message: 'Unauthorized' });
        return true;
      case 'stall':
        return true;
      case 'resetMidBody':
        socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n', () => socket.destroy());
        return true;
    }
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}
