// Starts the three proxies under test as child processes on loopback and waits until each serves.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join, resolve } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import { stringify } from 'yaml';
import { startChild, stopChild } from './children.mjs';

const BENCH_DIR = resolve(import.meta.dirname, '..');
export const CLI = resolve(BENCH_DIR, '../dist/cli.js');

/** Resolves with the first stdout JSON line whose event is `listening`; rejects if the child exits first. */
function waitForListening(handle, timeoutMs = 15_000) {
  return new Promise((resolveListening, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`${handle.name} did not report "listening" within ${timeoutMs} ms:\n${handle.output()}`)), timeoutMs);
    handle.child.stdout.on('data', (chunk) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.event === 'listening') {
          clearTimeout(timer);
          resolveListening(entry);
        }
      }
    });
    void handle.exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      reject(new Error(`${handle.name} exited (${error?.message ?? code ?? signal}) before listening:\n${handle.output()}`));
    });
  });
}

function nodeArgs(cpuProfDir, name) {
  return cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${name}.cpuprofile`] : [];
}

/** Writes a sidecar config (listeners on port 0 unless `config` names them) and returns its path. */
export async function sidecarConfigFile(dir, name, config) {
  const configFile = join(dir, `${name}.yaml`);
  await writeFile(configFile, stringify({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', shutdownGrace: '2s', ...config }));
  return configFile;
}

/** `node [nodeFlags] dist/cli.js --config FILE`: the arguments the sidecar runs with. */
export function sidecarArgs(configFile, nodeFlags = []) {
  return [...nodeFlags, CLI, '--config', configFile, '--log-level', 'info'];
}

/** The built sidecar (`node dist/cli.js --config FILE`), listeners on port 0. */
export async function startSidecar(dir, name, config, { cpuProfDir, nodeFlags = [] } = {}) {
  const configFile = await sidecarConfigFile(dir, name, config);
  // Log level info: the "listening" line is an info line; the access log is off unless the config turns it on.
  const handle = startChild(name, process.execPath, [...nodeArgs(cpuProfDir, name), ...sidecarArgs(configFile, nodeFlags)]);
  return finishStart(handle, 'http://');
}

/** A Node floor reference (bench/floor-server.cjs): `server`, or `forwarder` to `upstream` with `authorization`. */
export async function startFloor(name, mode, { upstream, prefix, authorization, cpuProfDir } = {}) {
  const args = mode === 'server' ? ['server'] : ['forwarder', upstream, prefix];
  const handle = startChild(name, process.execPath, [...nodeArgs(cpuProfDir, name), join(BENCH_DIR, 'floor-server.cjs'), ...args], {
    env: { ...process.env, AUTHORIZATION: authorization ?? '' },
  });
  return finishStart(handle, 'http://');
}

export const FLOOR_SERVER = join(BENCH_DIR, 'floor-server.cjs');

async function finishStart(handle, scheme) {
  try {
    const entry = await waitForListening(handle);
    return { handle, url: `${scheme}${entry.proxy}`, adminUrl: entry.admin ? `${scheme}${entry.admin}` : undefined, stop: () => stopChild(handle) };
  } catch (error) {
    await stopChild(handle);
    throw error;
  }
}

/** The http-proxy-3 reference server (bench/http-proxy-3-server.mjs). */
export async function startHttpProxy3(name, target, prefix, authorization, { cpuProfDir } = {}) {
  const handle = startChild(name, process.execPath, [...nodeArgs(cpuProfDir, name), join(BENCH_DIR, 'http-proxy-3-server.mjs'), target, prefix], {
    env: { ...process.env, AUTHORIZATION: authorization },
  });
  return finishStart(handle, 'http://');
}

/** A port the OS considers free right now (nginx needs a number in its config). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

function nginxConfig({ prefixDir, port, upstreamHost, upstreamPort, authorization, workers, keepalive, routePrefix }) {
  // Everything under the temp prefix; no system paths. Upstream keep-alive needs HTTP/1.1 and an empty Connection header.
  // proxy_buffering off: stream answers through like the sidecar does, instead of spooling them.
  return `daemon off;
worker_processes ${workers};
pid ${join(prefixDir, 'nginx.pid')};
error_log ${join(prefixDir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(prefixDir, 'client_body')};
  proxy_temp_path ${join(prefixDir, 'proxy')};
  fastcgi_temp_path ${join(prefixDir, 'fastcgi')};
  uwsgi_temp_path ${join(prefixDir, 'uwsgi')};
  scgi_temp_path ${join(prefixDir, 'scgi')};
  keepalive_requests 1000000;
  upstream emulator {
    server ${upstreamHost}:${upstreamPort};
    keepalive ${keepalive};
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location ${routePrefix} {
      proxy_pass http://emulator/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host ${upstreamHost}:${upstreamPort};
      proxy_set_header Authorization "${authorization}";
      proxy_buffering off;
    }
  }
}
`;
}

/** Debian's nginx as a non-daemon child with a temp prefix; retries on a port collision. */
export async function startNginx(nginxPath, dir, name, { upstream, authorization, workers, keepalive, routePrefix }) {
  const target = new URL(upstream);
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    const prefixDir = join(dir, `${name}-${attempt}`);
    await mkdir(prefixDir, { recursive: true });
    const port = await freePort();
    const conf = join(prefixDir, 'nginx.conf');
    await writeFile(conf, nginxConfig({ prefixDir, port, upstreamHost: target.hostname, upstreamPort: target.port, authorization, workers, keepalive, routePrefix }));
    const handle = startChild(name, nginxPath, ['-p', prefixDir, '-c', conf, '-e', join(prefixDir, 'error.log')]);
    let exited = false;
    void handle.exited.then(() => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) return { handle, url: `http://127.0.0.1:${port}`, stop: () => stopChild(handle) };
      await sleep(50);
    }
    await stopChild(handle);
    const log = await readFile(join(prefixDir, 'error.log'), 'utf8').catch(() => '');
    if (/Address already in use/.test(log + handle.output())) continue;
    throw new Error(`nginx did not start:\n${handle.output()}\n${log}`);
  }
  throw new Error('nginx: no free port after 5 attempts');
}
