// What the CLI loads on demand (issue 11): each command and config path imports its modules when it
// runs, and the build ships them as one bundle (dist/cli.js + dist/bundle-*.js). These prove the
// lazy paths still find what they load: the demo its emulators, a Redis config the Redis store,
// an h2 upstream undici's HTTP/2 client, an upgrade the WebSocket engine, and the bundle everything without node_modules.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Redis } from 'ioredis';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, routeFor } from '../support/http.js';
import { startRedis } from '../support/redis.js';
import { CLI, runCli, startSidecar, waitFor, writeConfig, type RunningSidecar } from '../support/sidecar.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Spawns `node <cli> demo` on free ports and resolves with its proxy address once it listens. */
function startDemo(cli: string, cwd?: string): Promise<{ proxy: string; stop: () => Promise<unknown> }> {
  const child = spawn(process.execPath, [cli, 'demo', '--port', '0', '--admin-port', '0'], { cwd });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  let output = '';
  return new Promise((resolveDemo, reject) => {
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((text) => text.includes('"event":"listening"'));
      if (line) resolveDemo({ proxy: `http://${(JSON.parse(line) as { proxy: string }).proxy}`, stop });
    });
    void exited.then(() => reject(new Error(`demo exited before listening:\n${output}`)));
  });
}

describe('the bundle', () => {
  it('is what dist/cli.js is: an entry that loads dist/bundle-* chunks', async () => {
    const files = await readdir(resolve(ROOT, 'dist'));
    expect(files.some((name) => name.startsWith('bundle-cli-'))).toBe(true);
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('token-sidecar');
  });

  it('runs with nothing but itself, package.json and config/ (no node_modules): what the image needs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-bundle-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dist = resolve(ROOT, 'dist');
    for (const name of await readdir(dist)) if (name === 'cli.js' || name.startsWith('bundle-')) await cp(join(dist, name), join(dir, 'dist', name));
    await cp(resolve(ROOT, 'package.json'), join(dir, 'package.json'));
    await cp(resolve(ROOT, 'config'), join(dir, 'config'), { recursive: true });
    const demo = await startDemo(join(dir, 'dist/cli.js'), dir);
    cleanups.push(demo.stop);
    const answer = await call(`${demo.proxy}/covver/whoami`);
    expect(answer.status).toBe(200);
  });
});

describe('the sidecar start, read without yargs', () => {
  /** The built CLI with these arguments; its stdout so far, and a stop that resolves with the exit code. */
  function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    const exited = once(child, 'exit');
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return (await exited)[0] as number | null;
    };
    cleanups.push(stop);
    const line = (event: string) => waitFor(() => output.split('\n').find((text) => text.includes(`"event":"${event}"`)), { what: `a ${event} line` });
    return { output: () => output, line, stop };
  }

  it('runs on --config=FILE --log-level=L (the = forms) and serves', async () => {
    const covver = await startEmulator('covver');
    cleanups.push(() => covver.close());
    const file = await writeConfig({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', routes: { covver: routeFor(covver) } });
    const sidecar = spawnCli([`--config=${file}`, '--log-level=info']);
    const { proxy } = JSON.parse(await sidecar.line('listening')) as { proxy: string };
    expect((await call(`http://${proxy}/covver/whoami`)).status).toBe(200);
    expect(await sidecar.stop()).toBe(0);
  });

  it('reads --log-level: at warn, only warn lines (here: a listener off loopback), no info line from start to stop', async () => {
    const covver = await startEmulator('covver');
    cleanups.push(() => covver.close());
    const file = await writeConfig({ listen: '0.0.0.0:0', admin: '127.0.0.1:0', guard: { allowNonLoopback: true }, routes: { covver: routeFor(covver) } });
    // the config from TOKEN_SIDECAR_CONFIG, the level from the flag
    const sidecar = spawnCli(['--log-level', 'warn'], { TOKEN_SIDECAR_CONFIG: file });
    const exposed = JSON.parse(await sidecar.line('listener_exposed')) as { bound: string };
    const port = exposed.bound.split(':').pop();
    expect((await call(`http://127.0.0.1:${port}/covver/whoami`)).status).toBe(200);
    expect(await sidecar.stop()).toBe(0);
    const levels = sidecar.output().split('\n').filter(Boolean).map((text) => (JSON.parse(text) as { level: string }).level);
    expect(new Set(levels)).toEqual(new Set(['warn']));
  });

  it('--help alone prints the help yargs renders (dist/bundle-help.txt, made by the build), word for word', async () => {
    const prebuilt = await runCli(['--help']);
    const rendered = await runCli(['--help', '--log-level', 'info']);
    expect([prebuilt.code, rendered.code]).toEqual([0, 0]);
    expect(rendered.stdout).toContain('Commands:');
    expect(prebuilt.stdout).toBe(rendered.stdout);
  });

  it('leaves every other command line to yargs: its usage errors, exit 2', async () => {
    const file = await writeConfig({ routes: {} });
    const cases: Array<[string[], RegExp]> = [
      [['--config', file, '--log-level', 'loud'], /Invalid values:[\s\S]*log-level[\s\S]*"debug", "info", "warn", "error"/],
      [['--config', file, '--confg', file], /Unknown argument: confg/],
      [['--config', file, 'stray'], /Unknown argument: stray/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});

describe('what loads on demand', () => {
  it('demo finds the emulators and serves through them', async () => {
    const demo = await startDemo(CLI);
    cleanups.push(demo.stop);
    for (const route of ['covver', 'cobee', 'petje', 'light']) expect((await call(`${demo.proxy}/${route}/whoami`)).status).toBe(200);
  });

  it('a Redis config loads the Redis store: the grant lands in Redis', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const covver = await startEmulator('covver');
    cleanups.push(() => covver.close());
    const sidecar = await startSidecar({ store: { type: 'redis', url: redis.url, keyPrefix: 'lazy:' }, routes: { covver: routeFor(covver) } });
    cleanups.push(() => sidecar.stop());
    expect((await call(`${sidecar.url}/covver/whoami`)).status).toBe(200);
    expect(sidecar.output()).not.toContain('store_write_failed');
    const client = new Redis(redis.url);
    cleanups.push(async () => client.disconnect());
    await waitFor(async () => ((await client.keys('lazy:*')).length > 0 ? true : undefined), { what: 'a grant in Redis' });
  });
});

describe("undici's HTTP/2 client, loaded when an upstream negotiates h2", () => {
  it('forwards to a TLS upstream that picks h2 by ALPN (undici offers it by default), with the route token', async () => {
    const TLS = resolve(import.meta.dirname, '../fixtures/tls');
    const covver = await startEmulator('covver');
    cleanups.push(() => covver.close());
    const seen: Array<{ version: string; authorization: string | undefined }> = [];
    // An HTTP/2 server that prefers h2 but also speaks HTTP/1.1, as most public APIs do.
    const upstream = createSecureServer({ key: readFileSync(`${TLS}/server-key.pem`), cert: readFileSync(`${TLS}/server.pem`), allowHTTP1: true }, (req, res) => {
      seen.push({ version: req.httpVersion, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`over ${req.httpVersion}`);
    });
    await new Promise<void>((listening) => upstream.listen(0, '127.0.0.1', listening));
    cleanups.push(() => new Promise((closed) => upstream.close(closed)));
    const { port } = upstream.address() as { port: number };
    const sidecar = await startSidecar({ routes: { covver: { ...routeFor(covver), upstream: `https://localhost:${port}`, caFile: `${TLS}/ca.pem` } } });
    cleanups.push(() => sidecar.stop());
    const answer = await call(`${sidecar.url}/covver/whoami`);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('over 2.0');
    expect(seen).toEqual([{ version: '2.0', authorization: expect.stringMatching(/^Bearer /) }]);
  });
});

describe('the WebSocket engine, loaded with the first upgrade', () => {
  let covver: Emulator;
  let echo: ReturnType<typeof createServer>;
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    covver = await startEmulator('covver');
    echo = createServer();
    const wss = new WebSocketServer({ server: echo });
    wss.on('connection', (socket, request) => socket.send(`auth=${request.headers.authorization === undefined ? 'none' : 'bearer'}`));
    await new Promise<void>((listening) => echo.listen(0, '127.0.0.1', listening));
    const { port } = echo.address() as { port: number };
    sidecar = await startSidecar({ routes: { covver: { ...routeFor(covver), upstream: `http://127.0.0.1:${port}` } } });
  });
  afterAll(async () => {
    await sidecar.stop();
    echo.closeAllConnections();
    await new Promise((closed) => echo.close(closed));
    await covver.close();
  });

  it('carries an upgrade (and a second one) with the route token after a plain request', async () => {
    const url = sidecar.url.replace('http://', 'ws://');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const socket = new WebSocket(`${url}/covver/socket`);
      const [message] = (await once(socket, 'message')) as [Buffer];
      expect(message.toString()).toBe('auth=bearer');
      socket.close();
      await once(socket, 'close');
    }
  });
});
