// The fault suite's kit: route configs against the emulators, fast timing defaults, HTTP and
// raw-socket helpers, and admin probes. Every sidecar is the built CLI (dist/cli.js).
import { connect } from 'node:net';
import { Agent } from 'undici';
import { call, routeFor, type Answer, type Json } from '../support/http.js';
import { metricValue, startSidecar, waitFor, type RunningSidecar } from '../support/sidecar.js';

export { call, metricValue, routeFor, startSidecar, waitFor, type Answer, type RunningSidecar };

/** Timeouts and backoff short enough that every fault shows within a second or two. */
export const FAST = {
  timeouts: { connect: '500ms', token: '600ms', upstreamHeaders: '1s', idle: '5s' },
  refresh: { backoffInitial: '100ms', backoffMax: '800ms', rejectedRetry: '1h', defaultLifetime: '300s' },
  shutdownGrace: '10s',
} as const;

/** A config with FAST timings; `extra` overrides top-level keys and merges `timeouts`/`refresh`. */
export function fastConfig(routes: Record<string, Json>, extra: Json = {}): Json {
  const { timeouts, refresh, ...rest } = extra as { timeouts?: Json; refresh?: Json } & Json;
  return {
    ...FAST,
    ...rest,
    timeouts: { ...FAST.timeouts, ...timeouts },
    refresh: { ...FAST.refresh, ...refresh },
    routes,
  };
}

/** A keep-alive client for bursts; close it in afterAll/finally. */
export function client(connections = 64): Agent {
  return new Agent({ connections, pipelining: 0, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

export async function metrics(sidecar: RunningSidecar): Promise<string> {
  return (await call(`${sidecar.adminUrl}/metrics`)).text;
}

export async function metric(sidecar: RunningSidecar, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await metrics(sidecar), name, labels);
}

export async function readyz(sidecar: RunningSidecar): Promise<Answer> {
  return call(`${sidecar.adminUrl}/readyz`);
}

/** Polls /readyz until every route (or the named ones) stands in `state`; returns that answer. */
export async function waitForRouteState(sidecar: RunningSidecar, state: string, routes?: readonly string[]): Promise<Answer> {
  return waitFor(
    async () => {
      const answer = await readyz(sidecar);
      const states = (answer.json?.routes ?? []) as Array<{ route: string; state: string }>;
      const wanted = states.filter((entry) => routes === undefined || routes.includes(entry.route));
      return wanted.length > 0 && wanted.every((entry) => entry.state === state) ? answer : undefined;
    },
    { what: `routes ${routes?.join(', ') ?? '(all)'} ${state}` },
  );
}

/** Polls until a GET on the route answers `status` (default 200); returns that answer. */
export async function waitForStatus(url: string, status = 200, what?: string, timeoutMs = 10_000): Promise<Answer> {
  return waitFor(
    async () => {
      const answer = await call(url).catch(() => undefined);
      return answer?.status === status ? answer : undefined;
    },
    { timeoutMs, intervalMs: 50, what: what ?? `${status} from ${url}` },
  );
}

/** Asserts the shape of SPEC §4: JSON body with error/route/message and the error header. */
export function sidecarError(answer: Answer): string | undefined {
  const header = answer.headers['x-token-sidecar-error'];
  return typeof header === 'string' ? header : undefined;
}

/** host and port of an http://host:port URL. */
function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
}

/**
 * Writes raw bytes on a new TCP connection and collects everything until the peer closes
 * (or `idleMs` passes without data once something arrived, for keep-alive answers).
 */
export function rawExchange(url: string, bytes: string | Buffer, options: { idleMs?: number; timeoutMs?: number } = {}): Promise<string> {
  const { host, port } = hostPort(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = '';
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(idle);
      clearTimeout(overall);
      socket.destroy();
      resolve(received);
    };
    const overall = setTimeout(finish, options.timeoutMs ?? 5_000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      clearTimeout(idle);
      idle = setTimeout(finish, options.idleMs ?? 300);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (received.length > 0 || error.code === 'ECONNRESET') finish();
      else reject(error);
    });
    socket.on('close', finish);
  });
}

/** The status code of a raw HTTP/1.1 answer, or undefined when none came. */
export function rawStatus(answer: string): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
  return match ? Number(match[1]) : undefined;
}

/** A port nothing listens on: bound, then released. */
export async function closedPortUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Things to close after each test, in reverse order (sidecars first, then emulators). */
export class Cleanup {
  readonly #tasks: Array<() => Promise<unknown> | unknown> = [];
  add<T>(value: T, close: (value: T) => Promise<unknown> | unknown): T {
    this.#tasks.push(() => close(value));
    return value;
  }
  async run(): Promise<void> {
    for (const task of this.#tasks.splice(0).reverse()) await Promise.resolve(task()).catch(() => undefined);
  }
}

/**
 * Calls `send` at a steady rate for `durationMs` (the pacing timer is the only timer) and
 * resolves with every result once all have settled.
 */
export async function paced<T>(ratePerSecond: number, durationMs: number, send: (index: number) => Promise<T>): Promise<T[]> {
  const interval = 1000 / ratePerSecond;
  const started = performance.now();
  const pending: Array<Promise<T>> = [];
  for (let index = 0; index * interval < durationMs; index += 1) {
    const wait = started + index * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(send(index));
  }
  return Promise.all(pending);
}
