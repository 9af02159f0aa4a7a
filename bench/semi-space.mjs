// The measurement behind the V8 heap setting the image runs the sidecar with (Dockerfile
// NODE_OPTIONS): throughput and peak RSS of the sidecar at 200 connections for each
// --max-semi-space-size, interleaved rounds, medians. A fresh sidecar per run, so each peak is its own.
// Run: npm run build && node bench/semi-space.mjs      (SEMI_SPACES=default,1,8,16,32 ROUNDS=3 SECONDS=6)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stopAllChildren } from './lib/children.mjs';
import { rssMb } from './lib/footprint.mjs';
import { startSidecar } from './lib/proxies.mjs';
import { ensureTools } from './lib/tools.mjs';
import { runWrk } from './lib/wrk.mjs';

const SEMI_SPACES = (process.env.SEMI_SPACES ?? 'default,1,8,16,32').split(',');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 6);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 200);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const tools = ensureTools([{ binary: 'wrk', pkg: 'wrk' }]);
const { startEmulator, DEMO_CLIENTS } = await import(pathToFileURL(resolve(import.meta.dirname, '../dist/emulators/index.js')).href);
const emulator = await startEmulator('covver', {});
const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-semi-'));
const route = { provider: 'covver', upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials: DEMO_CLIENTS.covver };
const results = new Map(SEMI_SPACES.map((size) => [size, { rps: [], p99: [], peak: [] }]));
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const size of [...SEMI_SPACES.slice(round % SEMI_SPACES.length), ...SEMI_SPACES.slice(0, round % SEMI_SPACES.length)]) {
      const nodeFlags = size === 'default' ? [] : [`--max-semi-space-size=${size}`];
      const sidecar = await startSidecar(dir, `semi-${size}`, { refresh: { eager: true }, routes: { covver: route } }, { nodeFlags });
      await runWrk(tools.wrk, { url: `${sidecar.url}/covver/whoami`, seconds: 1, connections: CONNECTIONS, threads: 2 });
      const run = await runWrk(tools.wrk, { url: `${sidecar.url}/covver/whoami`, seconds: SECONDS, connections: CONNECTIONS, threads: 2 });
      const { peak } = rssMb(sidecar.handle.child.pid);
      await sidecar.stop();
      results.get(size).rps.push(run.requestsPerSecond);
      results.get(size).p99.push(run.p99Ms);
      results.get(size).peak.push(peak);
      process.stderr.write(`round ${round + 1} semi-space ${size}: ${Math.round(run.requestsPerSecond)} req/s, p99 ${run.p99Ms.toFixed(2)} ms, peak RSS ${peak.toFixed(1)} MB\n`);
    }
  }
  process.stdout.write(`| --max-semi-space-size | req/s at ${CONNECTIONS} connections | p99 ms | peak RSS MB |\n| --- | ---: | ---: | ---: |\n`);
  for (const [size, { rps, p99, peak }] of results) process.stdout.write(`| ${size} | ${Math.round(median(rps)).toLocaleString('en-US')} | ${median(p99).toFixed(2)} | ${median(peak).toFixed(1)} |\n`);
} finally {
  await stopAllChildren();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
}
