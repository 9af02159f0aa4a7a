import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

export const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

export interface RunningSidecar {
  /** http://host:port of the main proxy listener. */
  readonly url: string;
  /** http://host:port of the admin listener. */
  readonly adminUrl: string;
  /** http://host:port of each route's own listener. */
  readonly routeUrls: Record<string, string>;
  readonly child: ChildProcessWithoutNullStreams;
  /** Every JSON log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything the process printed (stdout and stderr), raw. */
  output(): string;
  /** SIGTERM, then resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly configFile: string;
}

/** Writes a config (object → YAML) to a temp dir and returns its path. */
export async function writeConfig(config: unknown, dir?: string): Promise<string> {
  const folder = dir ?? (await mkdtemp(join(tmpdir(), 'token-sidecar-')));
  const file = join(folder, 'config.yaml');
  await writeFile(file, stringify(config));
  return file;
}

/** Runs the built CLI with arguments; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * Starts the built sidecar (`node dist/cli.js --config FILE`) as a child process with listeners
 * on port 0 unless the config says otherwise, and waits for its `listening` log line.
 */
export async function startSidecar(config: Record<string, unknown>, options: { env?: NodeJS.ProcessEnv; args?: string[] } = {}): Promise<RunningSidecar> {
  const configFile = await writeConfig({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', ...config });
  return startSidecarWithFile(configFile, { ...options, removeConfigOnStop: true });
}

/** Starts the built sidecar on an existing config file (which should listen on port 0). */
export async function startSidecarWithFile(configFile: string, options: { env?: NodeJS.ProcessEnv; args?: string[]; removeConfigOnStop?: boolean } = {}): Promise<RunningSidecar> {
  const child = spawn(process.execPath, [CLI, '--config', configFile, ...(options.args ?? [])], { env: { ...process.env, ...options.env } });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let pending = '';
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const listening = new Promise<Record<string, unknown>>((resolveListening, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.event === 'listening') resolveListening(entry);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    void exited.then((code) => reject(new Error(`sidecar exited with ${code} before listening:\n${raw}`)));
  });
  const entry = await listening;
  const routes = (entry.routeListeners ?? {}) as Record<string, string>;
  return {
    url: `http://${entry.proxy as string}`,
    adminUrl: `http://${entry.admin as string}`,
    routeUrls: Object.fromEntries(Object.entries(routes).map(([name, address]) => [name, `http://${address}`])),
    child,
    logs,
    configFile,
    output: () => raw,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const code = await exited;
      if (options.removeConfigOnStop) await rm(configFile, { force: true });
      return code;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined (no fixed sleeps). */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}`);
    await new Promise((resolveTick) => setTimeout(resolveTick, options.intervalMs ?? 20));
  }
}

/** Reads one sample of a metric from a Prometheus text exposition (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
