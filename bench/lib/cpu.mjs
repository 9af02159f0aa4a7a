// CPU time of a process tree from /proc (Linux), so each proxy's cost per request can be
// compared independently of how the 2 shared cores happened to be split during a run.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

let ticksPerSecond;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function ownTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function childPids(pid) {
  const pids = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone, or no /proc
  }
  return pids;
}

function ownSyscalls(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** read + write system calls made so far by `pid` and its living descendants (/proc/PID/io). */
export function treeSyscalls(pid) {
  let calls = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const next = stack.pop();
    calls += ownSyscalls(next);
    stack.push(...childPids(next));
  }
  return calls;
}

/** CPU seconds (user + system) used so far by `pid` and its living descendants. */
export function treeCpuSeconds(pid) {
  let ticks = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const next = stack.pop();
    ticks += ownTicks(next);
    stack.push(...childPids(next));
  }
  return ticks / clockTicks();
}

/** CPU seconds used by this process (it hosts the emulator). */
export function selfCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Machine-wide busy and steal CPU seconds so far, from the `cpu` line of /proc/stat. */
export function machineCpuSeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: (user + nice + system + irq + softirq) / clockTicks(), steal: (steal ?? 0) / clockTicks() };
  } catch {
    return { busy: 0, steal: 0 };
  }
}

/** CPU seconds of this process's children that have exited and been reaped (wrk runs). */
export function reapedChildrenCpuSeconds() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / clockTicks();
  } catch {
    return 0;
  }
}

/**
 * CPU the rest of the machine uses, in cores, over `ms`: everything but this process and its
 * children. Other work on a 2-core box skews every number, so the benchmark measures it.
 */
export async function backgroundCores(ms, ownPids = []) {
  const own = () => selfCpuSeconds() + reapedChildrenCpuSeconds() + ownPids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const machineBefore = machineCpuSeconds();
  const ownBefore = own();
  await sleep(ms);
  const machineAfter = machineCpuSeconds();
  return Math.max(0, (machineAfter.busy - machineBefore.busy - (own() - ownBefore)) / (ms / 1000));
}
