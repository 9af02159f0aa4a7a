import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Owns what must die on close: every socket (hung, stalled and upgraded ones too, which
 * `server.close()` alone would wait for) and every pending delay.
 */
export class Lifecycle {
  private readonly sockets = new Set<Socket>();
  private readonly closing = new AbortController();

  track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Resolves after `ms`, or rejects once the emulator closes. */
  async delay(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.closing.signal });
  }

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  async close(server: Server): Promise<void> {
    this.closing.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('emulator is not listening on a TCP port');
  return address.port;
}
