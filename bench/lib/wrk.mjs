// Runs wrk for a fixed duration and reads its report: throughput, latency percentiles, errors.
import { startChild } from './children.mjs';

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(text) {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** Parses wrk's `--latency` report. Exported for a quick self-check with a captured report. */
export function parseWrk(text) {
  const number = (re) => {
    const match = re.exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const percentile = (p) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text);
    return match ? toMs(match[1]) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/) ?? Number.NaN,
    requests: number(/(\d+) requests in/) ?? 0,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    socketErrorDetail: socket ? socket[0] : '',
  };
}

/**
 * wrk -t THREADS -c CONNECTIONS -d SECONDS --latency [-H header] URL.
 * Rejects when wrk fails; bad answers are reported, not hidden (non2xx, socketErrors).
 */
export async function runWrk(wrkPath, { url, seconds, connections, threads, headers = {}, timeoutSeconds = 5 }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', `${timeoutSeconds}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const run = startChild('wrk', wrkPath, args);
  const { code, signal, error } = await run.exited;
  const text = run.output();
  if (error || code !== 0) throw new Error(`wrk ${args.join(' ')} failed (${error?.message ?? `exit ${code ?? signal}`}):\n${text}`);
  const result = parseWrk(text);
  if (!Number.isFinite(result.requestsPerSecond)) throw new Error(`could not read wrk's report:\n${text}`);
  return { ...result, raw: text };
}
