import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { closedPort } from './ports.js';

/** A real Debian redis-server on loopback, without persistence, for one test file. */
export async function startRedis(): Promise<{ url: string; close(): Promise<void> }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await closedPort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `redis://127.0.0.1:${port}`;
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    const deadline = Date.now() + 5_000;
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() < deadline) {
      try {
        await client.connect();
        ready = (await client.ping()) === 'PONG';
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    client.disconnect();
    if (ready) {
      return {
        url,
        close: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
  }
  throw new Error('could not start redis-server (is the redis-server package installed? npm test installs it)');
}
