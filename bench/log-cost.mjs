// What one log line costs: the sidecar's logger (dist/log.js: censor by construction) against
// plain pino writing the same fields in the same shape (service, ISO time, level label), both into
// a sync /dev/null destination, in interleaved rounds in this process. Medians of µs per line.
// Run: npm run build && node bench/log-cost.mjs        (also a row of `npm run bench`)
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { destination, pino, stdTimeFunctions } from 'pino';

const LOG = resolve(import.meta.dirname, '../dist/log.js');

/** The two lines a request can cost: `access` (accessLog: true) and `request_failed` (any 5xx). */
export const LINES = {
  access: (logger) => logger.info({ event: 'access', route: 'covver', method: 'GET', status: 200, durationMs: 3 }),
  request_failed: (logger) =>
    logger.warn({ event: 'request_failed', route: 'covver', error: 'upstream_unreachable', detail: 'the upstream refused the connection (ECONNREFUSED 127.0.0.1:41234)' }),
};

function plainPino(sink) {
  return pino({ level: 'info', base: { service: 'token-sidecar' }, timestamp: stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, sink);
}

function microsPerLine(logger, line, count) {
  const started = performance.now();
  for (let index = 0; index < count; index += 1) line(logger);
  return ((performance.now() - started) * 1000) / count;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** { line → { sidecar, pino } } in µs per line (medians over rounds, the two interleaved). */
export async function logCost({ rounds = 7, lines = 20_000 } = {}) {
  const { createLogger } = await import(pathToFileURL(LOG).href);
  const sink = destination({ dest: '/dev/null', sync: true });
  const loggers = { sidecar: createLogger({ level: 'info', destination: sink }), pino: plainPino(sink) };
  const results = {};
  for (const [name, line] of Object.entries(LINES)) {
    const samples = { sidecar: [], pino: [] };
    for (const logger of Object.values(loggers)) microsPerLine(logger, line, lines); // warm-up (JIT)
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 ? ['pino', 'sidecar'] : ['sidecar', 'pino'];
      for (const which of order) samples[which].push(microsPerLine(loggers[which], line, lines));
    }
    results[name] = { sidecar: median(samples.sidecar), pino: median(samples.pino) };
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await logCost();
  process.stdout.write('| log line | token-sidecar µs | plain pino µs | ratio |\n| --- | ---: | ---: | ---: |\n');
  for (const [name, { sidecar, pino: plain }] of Object.entries(results)) {
    process.stdout.write(`| ${name} | ${sidecar.toFixed(2)} | ${plain.toFixed(2)} | ${(sidecar / plain).toFixed(2)}× |\n`);
  }
}
