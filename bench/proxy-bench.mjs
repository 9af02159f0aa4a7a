// Forwarding benchmark: token-sidecar against a direct call, nginx and http-proxy-3, all in the
// same run on this machine, plus the cold-start burst (N first requests → one token call).
// Run: npm run build && node bench/proxy-bench.mjs      (settings: see bench/README.md)
import { Buffer } from 'node:buffer';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { fetch } from 'undici';
import { burst, tokenMetrics } from './lib/burst.mjs';
import { stopAllChildren } from './lib/children.mjs';
import { backgroundCores, machineCpuSeconds, reapedChildrenCpuSeconds, selfCpuSeconds, treeCpuSeconds, treeSyscalls } from './lib/cpu.mjs';
import { summarizeProfile } from './lib/cpuprofile.mjs';
import { CLI, startHttpProxy3, startNginx, startSidecar } from './lib/proxies.mjs';
import { ensureTools, versionOf } from './lib/tools.mjs';
import { runWrk } from './lib/wrk.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const EMULATORS = join(ROOT, 'dist/emulators/index.js');

function setting(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  if (typeof fallback === 'number') {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
    return number;
  }
  return value;
}

const SETTINGS = {
  seconds: setting('BENCH_DURATION', 10),
  warmupSeconds: setting('BENCH_WARMUP', 5),
  connections: setting('BENCH_CONNECTIONS', 64),
  threads: setting('BENCH_THREADS', 2),
  rounds: setting('BENCH_ROUNDS', 3),
  paths: setting('BENCH_PATHS', '/whoami,/bytes/65536').split(',').map((p) => p.trim()).filter(Boolean),
  scenarios: setting('BENCH_SCENARIOS', 'direct,token-sidecar,nginx,http-proxy-3').split(',').map((s) => s.trim()),
  lifetimeSeconds: setting('BENCH_TOKEN_LIFETIME', 600),
  nginxWorkers: setting('BENCH_NGINX_WORKERS', 1),
  burstRequests: setting('BENCH_BURST', 10_000),
  burstConnections: setting('BENCH_BURST_CONNECTIONS', 256),
  cpuProfile: setting('BENCH_CPU_PROF', '') !== '' && process.env.BENCH_CPU_PROF !== '0',
  // Before each measured run, wait (up to quietWaitSeconds) until other processes use less than quietCores.
  quietCores: Number(process.env.BENCH_QUIET_CORES ?? 0.2),
  quietWaitSeconds: Number(process.env.BENCH_QUIET_WAIT ?? 60),
  // A measured run during which other processes used more than disturbedCores is repeated, up to retries times.
  disturbedCores: Number(process.env.BENCH_DISTURBED_CORES ?? 0.3),
  retries: Number(process.env.BENCH_RETRIES ?? 2),
};
const ROUTE = 'covver';
const PREFIX = `/${ROUTE}/`;
const KNOWN = ['direct', 'token-sidecar', 'nginx', 'http-proxy-3'];

const log = (line = '') => process.stdout.write(`${line}\n`);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function fetchToken(emulator, clientId, clientSecret) {
  const response = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grantType: 'clientCredentials', clientId, clientSecret }),
  });
  const body = await response.json();
  if (response.status !== 200 || typeof body.accessToken !== 'string') throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
  return `Bearer ${body.accessToken}`;
}

/** One request through the target before measuring: a fast 401 would make any proxy look great. */
async function checkTarget(name, base, path, headers) {
  const response = await fetch(`${base}${path}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`${name}: GET ${path} answered ${response.status}: ${body.toString().slice(0, 300)}`);
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  if (bytes && body.length !== Number(bytes[1])) throw new Error(`${name}: GET ${path} returned ${body.length} bytes`);
}

function cpuOf(target) {
  return target.pid === undefined ? 0 : treeCpuSeconds(target.pid);
}

/** Waits until the rest of the machine is (nearly) idle, or gives up after quietWaitSeconds. */
async function waitForQuiet(pids) {
  const deadline = Date.now() + SETTINGS.quietWaitSeconds * 1000;
  let background = await backgroundCores(1000, pids);
  if (background <= SETTINGS.quietCores) return;
  const started = Date.now();
  process.stderr.write(`other processes use ${background.toFixed(2)} cores: waiting up to ${SETTINGS.quietWaitSeconds} s for quiet ... `);
  while (background > SETTINGS.quietCores && Date.now() < deadline) background = await backgroundCores(2000, pids);
  const waited = `${Math.round((Date.now() - started) / 1000)} s`;
  process.stderr.write(background > SETTINGS.quietCores ? `still ${background.toFixed(2)} cores after ${waited}, measuring anyway\n` : `quiet after ${waited}\n`);
}

async function measure(wrk, target, path, allPids) {
  const options = { url: `${target.base}${path}`, connections: SETTINGS.connections, threads: SETTINGS.threads, headers: target.headers };
  await runWrk(wrk, { ...options, seconds: SETTINGS.warmupSeconds });
  const own = () => selfCpuSeconds() + reapedChildrenCpuSeconds() + allPids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const machineBefore = machineCpuSeconds();
  const ownBefore = own();
  const proxyBefore = cpuOf(target);
  const syscallsBefore = target.pid === undefined ? 0 : treeSyscalls(target.pid);
  const emulatorBefore = selfCpuSeconds();
  const started = performance.now();
  const result = await runWrk(wrk, { ...options, seconds: SETTINGS.seconds });
  const elapsed = (performance.now() - started) / 1000;
  const proxyCpu = cpuOf(target) - proxyBefore;
  const proxySyscalls = target.pid === undefined ? 0 : treeSyscalls(target.pid) - syscallsBefore;
  const emulatorCpu = selfCpuSeconds() - emulatorBefore;
  const machineAfter = machineCpuSeconds();
  const perRequest = (seconds) => (seconds * 1e6) / Math.max(result.requests, 1);
  return {
    ...result,
    proxyCpuUsPerRequest: target.pid === undefined ? undefined : perRequest(proxyCpu),
    proxySyscallsPerRequest: target.pid === undefined ? undefined : proxySyscalls / Math.max(result.requests, 1),
    emulatorCpuUsPerRequest: perRequest(emulatorCpu),
    // Everything else that ran meanwhile (other users of the machine), and the hypervisor's steal.
    backgroundCores: Math.max(0, (machineAfter.busy - machineBefore.busy - (own() - ownBefore)) / elapsed),
    stealCores: (machineAfter.steal - machineBefore.steal) / elapsed,
  };
}

const fmt = {
  rps: (n) => Math.round(n).toLocaleString('en-US'),
  ms: (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
  ratio: (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a'),
  us: (n) => (n === undefined ? '–' : Math.round(n).toString()),
};

function table(path, rows) {
  const direct = rows.find((row) => row.scenario === 'direct');
  const nginx = rows.find((row) => row.scenario === 'nginx');
  const lines = [
    `#### GET ${PREFIX.slice(0, -1)}${path} (${SETTINGS.connections} connections, ${SETTINGS.seconds} s × ${SETTINGS.rounds} round${SETTINGS.rounds > 1 ? 's' : ''}, medians)`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | × direct | × nginx | proxy CPU µs/req | proxy read+write syscalls/req | emulator CPU µs/req | req/s range | other load (max cores) | non-2xx / socket errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.scenario} | ${fmt.rps(row.rps)} | ${fmt.ms(row.p50)} | ${fmt.ms(row.p99)} | ${direct ? fmt.ratio(row.rps / direct.rps) : 'n/a'} | ${nginx ? fmt.ratio(row.rps / nginx.rps) : 'n/a'} | ${fmt.us(row.proxyCpu)} | ${row.proxySyscalls === undefined ? '–' : row.proxySyscalls.toFixed(1)} | ${fmt.us(row.emulatorCpu)} | ${fmt.rps(row.min)}–${fmt.rps(row.max)} | ${row.background.toFixed(2)} | ${row.non2xx} / ${row.socketErrors} |`,
    );
  }
  const sidecar = rows.find((row) => row.scenario === 'token-sidecar');
  const httpProxy3 = rows.find((row) => row.scenario === 'http-proxy-3');
  if (sidecar && httpProxy3) {
    lines.push('', `token-sidecar / http-proxy-3 throughput: ${fmt.ratio(sidecar.rps / httpProxy3.rps)} (the README claims 1.5–3×); CPU per request: token-sidecar ${fmt.us(sidecar.proxyCpu)} µs, http-proxy-3 ${fmt.us(httpProxy3.proxyCpu)} µs`);
  }
  return lines.join('\n');
}

async function main() {
  for (const scenario of SETTINGS.scenarios) if (!KNOWN.includes(scenario)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${scenario}" (known: ${KNOWN.join(', ')})`);
  if (!existsSync(CLI) || !existsSync(EMULATORS)) throw new Error('dist/ is missing: run `npm run build` first');
  const tools = ensureTools([{ binary: 'wrk', pkg: 'wrk' }, ...(SETTINGS.scenarios.includes('nginx') ? [{ binary: 'nginx', pkg: 'nginx' }] : [])]);
  const { startEmulator, DEMO_CLIENTS } = await import(pathToFileURL(EMULATORS).href);
  const { clientId, clientSecret } = DEMO_CLIENTS.covver;

  const cores = cpus();
  log('# token-sidecar forwarding benchmark');
  log();
  log(`machine: ${cores.length} cores (${cores[0]?.model ?? 'unknown CPU'}), node ${process.version}, ${versionOf(tools.wrk, ['-v'])}${tools.nginx ? `, ${versionOf(tools.nginx, ['-v'])}` : ''}`);
  log(`wrk: -t${SETTINGS.threads} -c${SETTINGS.connections}, ${SETTINGS.warmupSeconds} s warm-up + ${SETTINGS.seconds} s measured, ${SETTINGS.rounds} round(s); nginx worker_processes ${SETTINGS.nginxWorkers}`);
  log('NOTE: wrk, the proxy under test and the emulator (a Node server in this process) all share these cores;');
  log('      ratios compare proxies under the same contention, they are not absolute capacities.');
  if (SETTINGS.cpuProfile) log('NOTE: BENCH_CPU_PROF is set: node proxies run under --cpu-prof, which slows them; use these numbers for the profile only.');
  log();

  const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-bench-'));
  // Also on Ctrl-C, which ends the process without running the finally below.
  const removeDir = () => (process.env.BENCH_KEEP_TMP ? undefined : rmSync(dir, { recursive: true, force: true }));
  process.once('exit', removeDir);
  // The fixed token that wrk (direct), nginx and http-proxy-3 send must outlive the whole run, quiet waits
  // included: it is issued with a one-day lifetime; the sidecar's tokens get BENCH_TOKEN_LIFETIME.
  const emulator = await startEmulator('covver', { lifetimeSeconds: 86_400 });
  const running = [];
  let failed = false;
  try {
    const authorization = await fetchToken(emulator, clientId, clientSecret);
    emulator.setLifetime(SETTINGS.lifetimeSeconds);
    const route = { provider: 'covver', upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials: { clientId, clientSecret } };
    const cpuProfDir = SETTINGS.cpuProfile ? join(dir, 'profiles') : undefined;

    // Every target up front; idle ones cost nothing, and rounds can interleave scenarios.
    const targets = [];
    let sidecarTokensBefore = 0;
    let sidecar;
    for (const scenario of SETTINGS.scenarios) {
      if (scenario === 'direct') {
        targets.push({ scenario, base: emulator.apiUrl, headers: { Authorization: authorization } });
      } else if (scenario === 'token-sidecar') {
        sidecarTokensBefore = emulator.stats.tokenRequests;
        sidecar = await startSidecar(dir, 'token-sidecar', { refresh: { eager: true }, routes: { [ROUTE]: route } }, { cpuProfDir });
        running.push(sidecar);
        targets.push({ scenario, base: `${sidecar.url}/${ROUTE}`, headers: {}, pid: sidecar.handle.child.pid });
      } else if (scenario === 'nginx') {
        const nginx = await startNginx(tools.nginx, dir, 'nginx', { upstream: emulator.apiUrl, authorization, workers: SETTINGS.nginxWorkers, keepalive: 128, routePrefix: PREFIX });
        running.push(nginx);
        targets.push({ scenario, base: `${nginx.url}/${ROUTE}`, headers: {}, pid: nginx.handle.child.pid });
      } else {
        const proxy = await startHttpProxy3('http-proxy-3', emulator.apiUrl, PREFIX, authorization, { cpuProfDir });
        running.push(proxy);
        targets.push({ scenario, base: `${proxy.url}/${ROUTE}`, headers: {}, pid: proxy.handle.child.pid });
      }
    }
    for (const target of targets) for (const path of SETTINGS.paths) await checkTarget(target.scenario, target.base, path, target.headers);

    const results = new Map(); // `${path} ${scenario}` → runs
    for (let round = 1; round <= SETTINGS.rounds; round += 1) {
      // Each round rotates the order, so no scenario always runs right after another (e.g. after direct).
      const order = targets.map((_, index) => targets[(index + round - 1) % targets.length]);
      for (const path of SETTINGS.paths) {
        for (const target of order) {
          const pids = targets.flatMap((t) => (t.pid === undefined ? [] : [t.pid]));
          // A run that other processes disturbed is measured again (up to retries times); the least disturbed one counts.
          let run;
          for (let attempt = 0; attempt <= SETTINGS.retries; attempt += 1) {
            await waitForQuiet(pids);
            process.stderr.write(`round ${round}/${SETTINGS.rounds}  ${path.padEnd(14)} ${target.scenario.padEnd(14)}`);
            const attemptRun = await measure(tools.wrk, target, path, pids);
            const disturbed = attemptRun.backgroundCores > SETTINGS.disturbedCores;
            process.stderr.write(` ${fmt.rps(attemptRun.requestsPerSecond).padStart(8)} req/s  p50 ${fmt.ms(attemptRun.p50Ms)} ms  p99 ${fmt.ms(attemptRun.p99Ms)} ms  other load ${attemptRun.backgroundCores.toFixed(2)} cores${disturbed ? ' (disturbed)' : ''}\n`);
            if (run === undefined || attemptRun.backgroundCores < run.backgroundCores) run = attemptRun;
            if (!disturbed) break;
          }
          const key = `${path} ${target.scenario}`;
          results.set(key, [...(results.get(key) ?? []), run]);
        }
      }
    }

    let sidecarMetrics;
    if (sidecar) sidecarMetrics = await tokenMetrics(sidecar.adminUrl);
    for (const proxy of running.splice(0)) await proxy.stop();
    const sidecarTokens = emulator.stats.tokenRequests - sidecarTokensBefore;

    log('## Steady state');
    log();
    for (const path of SETTINGS.paths) {
      const rows = targets.map(({ scenario }) => {
        const runs = results.get(`${path} ${scenario}`);
        const rps = runs.map((r) => r.requestsPerSecond);
        return {
          scenario,
          rps: median(rps),
          min: Math.min(...rps),
          max: Math.max(...rps),
          p50: median(runs.map((r) => r.p50Ms)),
          p99: median(runs.map((r) => r.p99Ms)),
          proxyCpu: runs[0].proxyCpuUsPerRequest === undefined ? undefined : median(runs.map((r) => r.proxyCpuUsPerRequest)),
          emulatorCpu: median(runs.map((r) => r.emulatorCpuUsPerRequest)),
          proxySyscalls: runs[0].proxySyscallsPerRequest === undefined ? undefined : median(runs.map((r) => r.proxySyscallsPerRequest)),
          background: Math.max(...runs.map((r) => r.backgroundCores)),
          non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
          socketErrors: runs.reduce((sum, r) => sum + r.socketErrors, 0),
        };
      });
      log(table(path, rows));
      log();
      const invalid = rows.filter((row) => row.non2xx > 0 || row.socketErrors > 0);
      if (invalid.length > 0) {
        failed = true;
        log(`INVALID: ${invalid.map((row) => row.scenario).join(', ')} got non-2xx answers or socket errors on ${path}: their req/s do not measure forwarding`);
        log();
      }
    }
    const allRuns = [...results.values()].flat();
    log(`other load during measured runs: max ${Math.max(...allRuns.map((r) => r.backgroundCores)).toFixed(2)} cores, median ${median(allRuns.map((r) => r.backgroundCores)).toFixed(2)}; hypervisor steal: max ${Math.max(...allRuns.map((r) => r.stealCores)).toFixed(2)} cores`);
    log();
    if (sidecar) {
      const totalRequests = [...results].filter(([key]) => key.endsWith(' token-sidecar')).flatMap(([, runs]) => runs).reduce((sum, r) => sum + r.requests, 0);
      log(`token requests the emulator saw while the steady-state sidecar ran: ${sidecarTokens} (token lifetime ${SETTINGS.lifetimeSeconds} s; ~${fmt.rps(totalRequests)} measured requests plus warm-ups)`);
      const refreshes = sidecarMetrics?.refresh.filter(({ value }) => value > 0).map(({ labels, value }) => `${labels} = ${value}`).join('; ');
      if (refreshes) log(`sidecar token_sidecar_token_refresh_total: ${refreshes}`);
      log();
    }

    // The burst: a fresh sidecar, no token yet, refresh.eager: false. Then the same burst again, warm,
    // to show what of the cold burst's time is the token fetch and cold start, and what is just load.
    if (SETTINGS.scenarios.includes('token-sidecar')) {
      const cold = await startSidecar(dir, 'token-sidecar-burst', { refresh: { eager: false }, routes: { [ROUTE]: route } });
      running.push(cold);
      await waitForQuiet([cold.handle.child.pid]);
      const before = emulator.stats.tokenRequests;
      const bursts = [];
      for (const label of ['cold (no token yet)', 'warm (same sidecar, again)']) {
        const tokensBefore = emulator.stats.tokenRequests;
        const result = await burst(cold.url, `/${ROUTE}/whoami`, { requests: SETTINGS.burstRequests, connections: SETTINGS.burstConnections });
        bursts.push({ label, tokens: emulator.stats.tokenRequests - tokensBefore, ...result });
      }
      const metrics = await tokenMetrics(cold.adminUrl);
      await cold.stop();
      running.splice(running.indexOf(cold), 1);
      log('## Cold-start burst');
      log();
      log(`${fmt.rps(SETTINGS.burstRequests)} GET /${ROUTE}/whoami at once (undici Pool of ${SETTINGS.burstConnections} connections, Promise.all) to a freshly started sidecar with refresh.eager: false`);
      log();
      log('| burst | token requests | took | req/s | answers |');
      log('| --- | ---: | ---: | ---: | --- |');
      for (const b of bursts) {
        log(`| ${b.label} | ${b.tokens} | ${(b.ms / 1000).toFixed(2)} s | ${fmt.rps(SETTINGS.burstRequests / (b.ms / 1000))} | ${Object.entries(b.statuses).map(([status, count]) => `${status}: ${count}`).join(', ')} |`);
      }
      log();
      const refreshSeconds = metrics.refreshDuration;
      log(`token requests for the cold burst: ${bursts[0].tokens} (expect exactly 1)${refreshSeconds === undefined ? '' : `; the token fetch itself took ${(refreshSeconds * 1000).toFixed(1)} ms`}`);
      log(`sidecar token_sidecar_token_cache_total: ${metrics.cache.map(({ labels, value }) => `${labels} = ${value}`).join('; ')}`);
      log('(the client undici Pool and the emulator share this process: the burst measures the whole loop, not the sidecar alone)');
      log();
      if (emulator.stats.tokenRequests - before !== 1) failed = true;
      if (bursts.some((b) => (b.statuses[200] ?? 0) !== SETTINGS.burstRequests)) failed = true;
    }

    if (cpuProfDir) {
      log('## CPU profiles');
      log();
      for (const name of ['token-sidecar', 'http-proxy-3']) {
        const file = join(cpuProfDir, `${name}.cpuprofile`);
        if (existsSync(file)) log(summarizeProfile(file, 25));
        log();
      }
    }
    log('Ratios: "× direct" is each scenario\'s throughput over wrk→emulator; "× nginx" over wrk→nginx→emulator.');
    log('The emulator (Node) is the same in every proxied scenario, so "× nginx" isolates what the proxy itself costs.');
  } finally {
    for (const proxy of running.splice(0)) await proxy.stop().catch(() => undefined);
    await stopAllChildren();
    await emulator.close();
    if (process.env.BENCH_KEEP_TMP) log(`temp dir kept: ${dir}`);
    removeDir();
  }
  if (failed) {
    log('FAIL: a run got errors (see INVALID above), or the burst got a non-200 answer or did not cost exactly one token call');
    process.exitCode = 1;
  }
}

main().catch(async (error) => {
  process.stderr.write(`proxy-bench failed: ${error.stack ?? error}\n`);
  await stopAllChildren();
  process.exit(1);
});
