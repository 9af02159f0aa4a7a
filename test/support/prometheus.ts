// A real Prometheus for tests: Debian's /usr/bin/prometheus as a child process on 127.0.0.1,
// with a temporary config and TSDB, scraping the given targets. No fixed port: Prometheus binds
// `127.0.0.1:0` and logs the port it got ("Listening on" with the bound address), which we read.
// Expect the first scrape about 5 s after start: Prometheus hands discovered targets to the scrape
// manager on a fixed 5 s tick. waitFor()'s default timeout allows for it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

export interface PromSample {
  metric: Record<string, string>;
  /** Unix seconds of the evaluation. */
  timestamp: number;
  /** Parsed number; `NaN`, `+Inf` and `-Inf` included. */
  value: number;
}

/** An instant-query result. A scalar result comes back as one sample with no labels. */
export type PromVector = PromSample[];

export interface StartPrometheusOptions {
  /** `host:port` of each `/metrics` endpoint to scrape. */
  targets: string[];
  /** Scrape and evaluation interval, Prometheus duration syntax. Default `1s`. */
  scrapeInterval?: string;
  /** Path scraped on each target. Default `/metrics`. */
  metricsPath?: string;
  /** How long to wait for the process to listen and become ready. Default 15 s. */
  startTimeoutMs?: number;
}

export interface RunningPrometheus {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  query(expr: string): Promise<PromVector>;
  /** Polls `query(expr)` until `predicate` holds; rejects with the last result after `timeoutMs` (default 15 s). */
  waitFor(expr: string, predicate: (v: PromVector) => boolean, timeoutMs?: number): Promise<PromVector>;
  /** Stops Prometheus and removes its temporary directory. Safe to call twice. */
  close(): Promise<void>;
}

const POLL_MS = 100;

export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const scrapeInterval = options.scrapeInterval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(options.targets, scrapeInterval, options.metricsPath ?? '/metrics'));

  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.format=json',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // An 'error' after start-up (a failed kill) must not become an uncaught exception.
  child.on('error', () => undefined);
  // If the test process dies without close(), do not leave Prometheus running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      process.removeListener('exit', killOnExit);
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    })();
    return closed;
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    const address = await listenAddress(child, deadline);
    const url = `http://${address}`;
    await waitReady(url, child, deadline);
    const query = (expr: string): Promise<PromVector> => instantQuery(url, expr);
    const waitFor = async (
      expr: string,
      predicate: (v: PromVector) => boolean,
      timeoutMs = 15_000,
    ): Promise<PromVector> => {
      const until = Date.now() + timeoutMs;
      let last: PromVector;
      for (;;) {
        last = await query(expr);
        if (predicate(last)) return last;
        if (Date.now() >= until) {
          throw new Error(`waitFor(${expr}) timed out after ${timeoutMs} ms; last result: ${JSON.stringify(last)}`);
        }
        await delay(POLL_MS);
      }
    };
    return { url, query, waitFor, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function prometheusConfig(targets: string[], interval: string, metricsPath: string): string {
  // JSON is valid YAML and needs no quoting rules of its own.
  return JSON.stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      { job_name: 'test', metrics_path: metricsPath, static_configs: [{ targets }] },
    ],
  });
}

/** Reads Prometheus' JSON log on stderr until it names the address it bound. */
function listenAddress(child: ChildProcess, deadline: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const stderr = child.stderr;
    if (!stderr) {
      reject(new Error('prometheus stderr is not piped'));
      return;
    }
    const log: string[] = [];
    let buffered = '';
    const done = (error: Error | undefined, address?: string): void => {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.removeListener('error', onError);
      stderr.removeListener('data', onData);
      // Keep draining stderr so a chatty Prometheus never blocks on a full pipe.
      stderr.resume();
      if (error) reject(error);
      else resolve(address ?? '');
    };
    const failure = (why: string): Error =>
      new Error(`prometheus ${why}; its log:\n${log.slice(-20).join('\n')}`);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        const address = boundAddress(line);
        if (address) {
          done(undefined, address);
          return;
        }
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(failure(`exited (code ${code}, signal ${signal}) before listening`));
    const onError = (error: Error): void => done(failure(`could not start: ${error.message}`));
    const timer = setTimeout(() => done(failure('did not report a listen address in time')), deadline - Date.now());
    stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** `{"msg":"Listening on","address":"127.0.0.1:41234",...}`, logged once the socket is bound. */
function boundAddress(line: string): string | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { msg, address } = entry as { msg?: unknown; address?: unknown };
  if (msg !== 'Listening on' || typeof address !== 'string') return undefined;
  return address.endsWith(':0') ? undefined : address;
}

async function waitReady(url: string, child: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`prometheus exited (code ${child.exitCode}) before it was ready`);
    }
    try {
      const response = await fetch(`${url}/-/ready`);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not accepting connections yet.
    }
    if (Date.now() >= deadline) throw new Error(`prometheus at ${url} did not become ready in time`);
    await delay(POLL_MS);
  }
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: unknown };
}

async function instantQuery(url: string, expr: string): Promise<PromVector> {
  const response = await fetch(`${url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }).toString(),
  });
  const body = (await response.json()) as QueryResponse;
  if (body.status !== 'success' || !body.data) {
    throw new Error(`query ${expr} failed (${response.status}): ${body.errorType ?? ''} ${body.error ?? ''}`);
  }
  const { resultType, result } = body.data;
  if (resultType === 'vector') {
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      metric: s.metric,
      timestamp: s.value[0],
      value: sampleValue(s.value[1]),
    }));
  }
  if (resultType === 'scalar') {
    const [timestamp, value] = result as [number, string];
    return [{ metric: {}, timestamp, value: sampleValue(value) }];
  }
  throw new Error(`query ${expr} returned a ${resultType}; use an instant vector or scalar expression`);
}

/** Prometheus writes `+Inf`/`-Inf`, which `Number()` does not read. */
function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

async function stop(child: ChildProcess): Promise<void> {
  // No pid: it never started (ENOENT), so there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
