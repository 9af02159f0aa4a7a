import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { closedPort } from './ports.js';

export interface RunningRedis {
  readonly url: string;
  /** Kills the server and starts a new, empty one on the same port (Redis as a cache, no persistence). */
  restartEmpty(): Promise<void>;
  close(): Promise<void>;
}

/** Spawns redis-server on `port` and waits until it answers PING; undefined if it could not start. */
async function spawnRedis(port: number): Promise<{ child: ChildProcess; exited: Promise<void> } | undefined> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  let failed = false;
  // A missing binary emits 'error' and never 'exit': both end the wait, so the test fails at once.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => {
      failed = true;
      resolve();
    });
  });
  const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => undefined);
  const deadline = Date.now() + 5_000;
  let ready = false;
  while (!ready && !failed && child.exitCode === null && Date.now() < deadline) {
    try {
      await client.connect();
      ready = (await client.ping()) === 'PONG';
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  client.disconnect();
  if (ready) return { child, exited };
  if (failed) throw new Error('could not spawn redis-server: is the redis-server package installed? (npm test installs it)');
  child.kill('SIGKILL');
  await exited;
  return undefined;
}

/** A real Debian redis-server on loopback, without persistence, for one test file. */
export async function startRedis(): Promise<RunningRedis> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await closedPort();
    let server = await spawnRedis(port);
    if (!server) continue;
    const stop = async () => {
      const current = server;
      server = undefined;
      if (!current) return;
      current.child.kill('SIGKILL');
      await current.exited;
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      restartEmpty: async () => {
        await stop();
        server = await spawnRedis(port);
        if (!server) throw new Error(`redis-server did not come back on port ${port}`);
      },
      close: stop,
    };
  }
  throw new Error('could not start redis-server (is the redis-server package installed? npm test installs it)');
}
