// Every child process the benchmark starts is registered here, so it is stopped at the end,
// on failure, on Ctrl-C, and (with SIGKILL, synchronously) on any exit.
import { spawn } from 'node:child_process';
import { clearTimeout, setTimeout } from 'node:timers';

/** pid → handle of each child still running. */
const live = new Map();

/**
 * Spawns a child in its own process group (detached), so stopping it also stops anything it
 * forked itself (nginx workers). stdout/stderr are piped and always drained.
 */
export function startChild(name, command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const spawnFailed = new Promise((resolve) => child.once('error', (error) => resolve({ code: null, signal: null, error })));
  const exited = Promise.race([new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))), spawnFailed]);
  const handle = { name, child, exited, output: () => output };
  if (child.pid !== undefined) {
    const { pid } = child;
    live.set(pid, handle);
    void exited.then(() => live.delete(pid));
  }
  return handle;
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(handle, graceMs = 5_000) {
  const { pid } = handle.child;
  if (pid === undefined) return handle.exited;
  if (!live.has(pid)) return handle.exited;
  signalGroup(pid, 'SIGTERM');
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    signalGroup(pid, 'SIGKILL');
  }, graceMs);
  const result = await handle.exited;
  clearTimeout(timer);
  // A leader killed hard may leave its own children (nginx workers) in the group: end them too.
  if (forced) signalGroup(pid, 'SIGKILL');
  return result;
}

export async function stopAllChildren() {
  await Promise.all([...live.values()].map((handle) => stopChild(handle)));
}

process.on('exit', () => {
  for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping child processes\n`);
    void stopAllChildren().finally(() => process.exit(130));
  });
}
