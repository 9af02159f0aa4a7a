// Memory and start-up against the Node floor (issue 11): idle and peak RSS from /proc, spawn →
// first good answer, and how long a short command takes; each measured the same way for the
// sidecar and its reference, interleaved, medians.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch } from 'undici';
import { startChild, stopChild } from './children.mjs';

/** VmRSS (now) and VmHWM (peak over the process's life) in MB, from /proc/PID/status. */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

const canConnect = (port) =>
  new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });

async function answers(url, status = 200) {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status === status;
  } catch {
    return false;
  }
}

/**
 * Spawns `command args` and polls (every 2 ms) until `ready()` holds; resolves with the ms from
 * spawn to ready and the running handle (the caller stops it).
 */
export async function timeToReady(name, command, args, ready, { env, timeoutMs = 15_000 } = {}) {
  const started = performance.now();
  const handle = startChild(name, command, args, env ? { env } : {});
  let exited = false;
  void handle.exited.then(() => (exited = true));
  while (!(await ready())) {
    if (exited) throw new Error(`${name} exited before it was ready:\n${handle.output()}`);
    if (performance.now() - started > timeoutMs) {
      await stopChild(handle);
      throw new Error(`${name} not ready within ${timeoutMs} ms:\n${handle.output()}`);
    }
    await sleep(2);
  }
  return { ms: performance.now() - started, handle };
}

/** Probes: a TCP accept on `port`; an HTTP 200 from `url`. */
export const probes = { accepts: (port) => () => canConnect(port), answers: (url) => () => answers(url) };

/** ms from spawn to exit of a short command (`--version`, `node -e 0`). */
export async function timeToExit(name, command, args) {
  const started = performance.now();
  const handle = startChild(name, command, args);
  const { code } = await handle.exited;
  if (code !== 0) throw new Error(`${name} exited ${code}:\n${handle.output()}`);
  return performance.now() - started;
}

/** RSS of a started process once it has settled: after its readiness, `settleMs` of nothing. */
export async function idleRss(pid, settleMs) {
  await sleep(settleMs);
  return rssMb(pid).rss;
}
