// Forwarding benchmark: token-sidecar against a direct call, nginx and http-proxy-3, all in the
// same run on this machine, plus the cold-start burst (N first requests → one token call).
// Run: npm run build && node bench/proxy-bench.mjs      (settings: see bench/README.md)
import { Buffer } from 'node:buffer';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { fetch } from 'undici';
import { burst, tokenMetrics } from './lib/burst.mjs';
import { stopAllChildren, stopChild } from './lib/children.mjs';
import { backgroundCores, machineCpuSeconds, reapedChildrenCpuSeconds, selfCpuSeconds, treeCpuSeconds, treeSyscalls } from './lib/cpu.mjs';
import { summarizeProfile } from './lib/cpuprofile.mjs';
import { idleRss, probes, rssMb, timeToExit, timeToReady } from './lib/footprint.mjs';
import { CLI, FLOOR_SERVER, freePort, sidecarArgs, sidecarConfigFile, startFloor, startHttpProxy3, startNginx, startSidecar } from './lib/proxies.mjs';
import { logCost } from './log-cost.mjs';
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

// BENCH_QUICK=1: one short round of everything, to see that the benchmark works (not to trust).
const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '' && process.env.BENCH_QUICK !== '0';
const list = (text) => text.split(',').map((item) => item.trim()).filter(Boolean);
const SETTINGS = {
  seconds: setting('BENCH_DURATION', QUICK ? 2 : 8),
  warmupSeconds: setting('BENCH_WARMUP', QUICK ? 1 : 3),
  connections: list(setting('BENCH_CONNECTIONS', '10,50,200')).map(Number),
  threads: setting('BENCH_THREADS', 2),
  rounds: setting('BENCH_ROUNDS', QUICK ? 1 : 3),
  paths: list(setting('BENCH_PATHS', '/whoami,/bytes/65536')),
  scenarios: list(setting('BENCH_SCENARIOS', 'direct,bare-forwarder,token-sidecar,token-sidecar-accesslog,nginx,http-proxy-3')),
  // The V8 settings the image runs the sidecar with (the Dockerfile's NODE_OPTIONS); the references run on Node's defaults.
  // `none`: Node's defaults, like the references.
  sidecarNodeFlags: list(setting('BENCH_SIDECAR_NODE_FLAGS', 'none')).flatMap((flags) => flags.split(' ')).filter((flag) => flag !== 'none'),
  footprintRepeats: setting('BENCH_FOOTPRINT_REPEATS', QUICK ? 3 : 7),
  idleSettleMs: setting('BENCH_IDLE_SETTLE_MS', QUICK ? 1000 : 3000),
  lifetimeSeconds: setting('BENCH_TOKEN_LIFETIME', 600),
  nginxWorkers: setting('BENCH_NGINX_WORKERS', 1),
  burstRequests: setting('BENCH_BURST', QUICK ? 2000 : 10_000),
  burstConnections: setting('BENCH_BURST_CONNECTIONS', 256),
  cpuProfile: setting('BENCH_CPU_PROF', '') !== '' && process.env.BENCH_CPU_PROF !== '0',
  // Before each measured run, wait (up to quietWaitSeconds) until other processes use less than quietCores.
  quietCores: Number(process.env.BENCH_QUIET_CORES ?? 0.2),
  quietWaitSeconds: Number(process.env.BENCH_QUIET_WAIT ?? 60),
  // A measured run during which other processes used more than disturbedCores is repeated, up to retries times.
  disturbedCores: Number(process.env.BENCH_DISTURBED_CORES ?? 0.3),
  retries: Number(process.env.BENCH_RETRIES ?? (QUICK ? 0 : 2)),
};
if (QUICK) SETTINGS.quietWaitSeconds = Number(process.env.BENCH_QUIET_WAIT ?? 2);
const ROUTE = 'covver';
const PREFIX = `/${ROUTE}/`;
const KNOWN = ['direct', 'bare-forwarder', 'token-sidecar', 'token-sidecar-accesslog', 'nginx', 'http-proxy-3'];
/** Issue 11's targets: the sidecar against the Node floor on the same binary. */
const TARGETS = { idleRss: 1.25, peakRss: 1.1, startup: 2.5, command: 2, throughput: 0.95, p99: 1.2, logLine: 2 };

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

async function measure(wrk, target, path, connections, allPids) {
  const options = { url: `${target.base}${path}`, connections, threads: Math.min(SETTINGS.threads, connections), headers: target.headers };
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

function table(path, connections, rows) {
  const floor = rows.find((row) => row.scenario === 'bare-forwarder');
  const nginx = rows.find((row) => row.scenario === 'nginx');
  const lines = [
    `#### GET ${PREFIX.slice(0, -1)}${path} (${connections} connections, ${SETTINGS.seconds} s × ${SETTINGS.rounds} round${SETTINGS.rounds > 1 ? 's' : ''}, medians)`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | × bare forwarder | × nginx | proxy CPU µs/req | proxy read+write syscalls/req | emulator CPU µs/req | req/s range | other load (max cores) | non-2xx / socket errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.scenario} | ${fmt.rps(row.rps)} | ${fmt.ms(row.p50)} | ${fmt.ms(row.p99)} | ${floor ? fmt.ratio(row.rps / floor.rps) : 'n/a'} | ${nginx ? fmt.ratio(row.rps / nginx.rps) : 'n/a'} | ${fmt.us(row.proxyCpu)} | ${row.proxySyscalls === undefined ? '–' : row.proxySyscalls.toFixed(1)} | ${fmt.us(row.emulatorCpu)} | ${fmt.rps(row.min)}–${fmt.rps(row.max)} | ${row.background.toFixed(2)} | ${row.non2xx} / ${row.socketErrors} |`,
    );
  }
  const sidecar = rows.find((row) => row.scenario === 'token-sidecar');
  const httpProxy3 = rows.find((row) => row.scenario === 'http-proxy-3');
  if (sidecar && httpProxy3) {
    lines.push('', `token-sidecar / http-proxy-3 throughput: ${fmt.ratio(sidecar.rps / httpProxy3.rps)}; CPU per request: token-sidecar ${fmt.us(sidecar.proxyCpu)} µs, http-proxy-3 ${fmt.us(httpProxy3.proxyCpu)} µs`);
  }
  return lines.join('\n');
}

const pct = (values) => median(values);

/**
 * Start-up, idle RSS and short commands, each against its Node floor, interleaved: every repeat
 * runs the bare server, the sidecar (one route, its token fetched: /readyz 200) and the commands.
 */
async function footprint(dir, route) {
  const samples = { bareStart: [], sidecarStart: [], bareIdle: [], sidecarIdle: [], nodeE0: [], version: [], help: [] };
  for (let repeat = 0; repeat < SETTINGS.footprintRepeats; repeat += 1) {
    process.stderr.write(`footprint ${repeat + 1}/${SETTINGS.footprintRepeats}\n`);
    const barePort = await freePort();
    const bare = await timeToReady('bare-server', process.execPath, [FLOOR_SERVER, 'server'], probes.accepts(barePort), { env: { ...process.env, PORT: String(barePort) } });
    samples.bareStart.push(bare.ms);
    await fetch(`http://127.0.0.1:${barePort}/`).then((response) => response.arrayBuffer());
    samples.bareIdle.push(await idleRss(bare.handle.child.pid, SETTINGS.idleSettleMs));
    await stopChild(bare.handle);

    const [listen, admin] = [await freePort(), await freePort()];
    const configFile = await sidecarConfigFile(dir, `footprint-${repeat}`, { listen: `127.0.0.1:${listen}`, admin: `127.0.0.1:${admin}`, refresh: { eager: true }, routes: { [ROUTE]: route } });
    const started = await timeToReady('token-sidecar-start', process.execPath, sidecarArgs(configFile, SETTINGS.sidecarNodeFlags), probes.answers(`http://127.0.0.1:${admin}/healthz`));
    samples.sidecarStart.push(started.ms);
    // Idle with one route and its token: wait for ready (the token is in hand), then settle.
    const readyDeadline = Date.now() + 10_000;
    while (!(await probes.answers(`http://127.0.0.1:${admin}/readyz`)()) && Date.now() < readyDeadline) await sleep(10);
    samples.sidecarIdle.push(await idleRss(started.handle.child.pid, SETTINGS.idleSettleMs));
    await stopChild(started.handle);

    samples.nodeE0.push(await timeToExit('node -e 0', process.execPath, ['-e', '0']));
    samples.version.push(await timeToExit('--version', process.execPath, [...SETTINGS.sidecarNodeFlags, CLI, '--version']));
    samples.help.push(await timeToExit('--help', process.execPath, [...SETTINGS.sidecarNodeFlags, CLI, '--help']));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, { median: pct(values), min: Math.min(...values), max: Math.max(...values) }]));
}

function footprintTable(fp, peaks) {
  const row = (what, sidecar, floor, unit, digits = 1) =>
    `| ${what} | ${sidecar.median.toFixed(digits)} ${unit} (${sidecar.min.toFixed(digits)}–${sidecar.max.toFixed(digits)}) | ${floor.median.toFixed(digits)} ${unit} (${floor.min.toFixed(digits)}–${floor.max.toFixed(digits)}) | ${fmt.ratio(sidecar.median / floor.median)} |`;
  const lines = [
    `## Memory and start-up (${SETTINGS.footprintRepeats} interleaved repeats, medians and range)`,
    '',
    '| measurement | token-sidecar | Node floor | ratio |',
    '| --- | ---: | ---: | ---: |',
    row('idle RSS, one route and its token (floor: bare node:http server)', fp.sidecarIdle, fp.bareIdle, 'MB'),
    row('spawn → /healthz 200 (floor: bare server spawn → accept)', fp.sidecarStart, fp.bareStart, 'ms', 0),
    row('`token-sidecar --version` (floor: `node -e 0`)', fp.version, fp.nodeE0, 'ms', 0),
    row('`token-sidecar --help` (floor: `node -e 0`)', fp.help, fp.nodeE0, 'ms', 0),
  ];
  const sidecarPeak = peaks.get('token-sidecar');
  const floorPeak = peaks.get('bare-forwarder');
  if (sidecarPeak !== undefined && floorPeak !== undefined) {
    lines.push(`| peak RSS over the steady-state runs, up to ${Math.max(...SETTINGS.connections)} connections (floor: bare forwarder) | ${sidecarPeak.toFixed(1)} MB | ${floorPeak.toFixed(1)} MB | ${fmt.ratio(sidecarPeak / floorPeak)} |`);
  }
  const others = [...peaks].filter(([scenario]) => scenario !== 'token-sidecar' && scenario !== 'bare-forwarder');
  if (others.length > 0) lines.push('', `peak RSS of the other targets: ${others.map(([scenario, mb]) => `${scenario} ${mb.toFixed(1)} MB`).join(', ')}`);
  return lines.join('\n');
}

function logTable(logs) {
  const lines = ['## Log line cost (µs per line, sync /dev/null destination, medians of interleaved rounds)', '', '| log line | token-sidecar | plain pino, same fields | ratio |', '| --- | ---: | ---: | ---: |'];
  for (const [name, { sidecar, pino }] of Object.entries(logs)) lines.push(`| ${name} | ${sidecar.toFixed(2)} | ${pino.toFixed(2)} | ${fmt.ratio(sidecar / pino)} |`);
  return lines.join('\n');
}

/** Every target of issue 11 with its ratio and PASS, or the miss. */
/**
 * The sidecar's ratio to the bare forwarder within each round, over the rounds: the two runs of
 * a round follow each other within a minute, so a slow spell of the VM (rounds of one target
 * differ by up to 40% here) weighs on both sides of a ratio instead of on one median.
 */
function pairedRatios(results, path, connections, pick) {
  const sidecar = results.get(`${path} ${connections} token-sidecar`);
  const floor = results.get(`${path} ${connections} bare-forwarder`);
  if (!sidecar || !floor) return undefined;
  const ratios = sidecar.map((run, index) => pick(run) / pick(floor[index]));
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/** Every target of issue 11 with its ratio and PASS, or the miss. */
function targetsTable({ fp, peaks, results, logs }) {
  const lines = ['## Targets (issue 11)', '', '| target | measured | verdict |', '| --- | ---: | --- |'];
  const check = (what, ratio, limit, atMost = true, range = undefined) => {
    const pass = Number.isFinite(ratio) && (atMost ? ratio <= limit : ratio >= limit);
    const measured = range ? `${fmt.ratio(ratio)} (${range.min.toFixed(2)}–${range.max.toFixed(2)})` : fmt.ratio(ratio);
    lines.push(`| ${what} ${atMost ? '≤' : '≥'} ${limit}× | ${measured} | ${pass ? 'PASS' : `miss (${ratio.toFixed(3)}× against ${limit}×)`} |`);
  };
  check('idle RSS / bare server', fp.sidecarIdle.median / fp.bareIdle.median, TARGETS.idleRss);
  if (peaks.has('token-sidecar') && peaks.has('bare-forwarder')) check('peak RSS / bare forwarder', peaks.get('token-sidecar') / peaks.get('bare-forwarder'), TARGETS.peakRss);
  check('spawn → /healthz / bare spawn → accept', fp.sidecarStart.median / fp.bareStart.median, TARGETS.startup);
  check('`--version` / `node -e 0`', fp.version.median / fp.nodeE0.median, TARGETS.command);
  check('`--help` / `node -e 0`', fp.help.median / fp.nodeE0.median, TARGETS.command);
  for (const path of SETTINGS.paths.filter((each) => each.startsWith('/whoami'))) for (const connections of SETTINGS.connections) {
    const throughput = pairedRatios(results, path, connections, (run) => run.requestsPerSecond);
    const p99 = pairedRatios(results, path, connections, (run) => run.p99Ms);
    if (!throughput || !p99) continue;
    check(`throughput / bare forwarder, ${path}, ${connections} connections`, throughput.median, TARGETS.throughput, false, throughput);
    check(`p99 / bare forwarder, ${path}, ${connections} connections`, p99.median, TARGETS.p99, true, p99);
  }
  for (const [name, { sidecar, pino }] of Object.entries(logs)) check(`\`${name}\` log line / plain pino`, sidecar / pino, TARGETS.logLine);
  lines.push('', 'Throughput and p99 rows: the median over rounds of the ratio within each round (its range in brackets); the steady-state tables above give each side\'s own medians.');
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
  log(`wrk: -t${SETTINGS.threads} -c ${SETTINGS.connections.join(', ')}, ${SETTINGS.warmupSeconds} s warm-up + ${SETTINGS.seconds} s measured, ${SETTINGS.rounds} round(s); nginx worker_processes ${SETTINGS.nginxWorkers}`);
  log('NOTE: wrk, the proxy under test and the emulator (a Node server in this process) all share these cores;');
  log('      ratios compare proxies under the same contention, they are not absolute capacities.');
  log(`sidecar node flags: ${SETTINGS.sidecarNodeFlags.join(' ') || '(none)'}; the floor references (bare server, bare forwarder) run on Node's defaults`);
  if (QUICK) log('NOTE: BENCH_QUICK is set: one short round, to check the benchmark runs; do not quote these numbers.');
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
        sidecar = await startSidecar(dir, 'token-sidecar', { refresh: { eager: true }, routes: { [ROUTE]: route } }, { cpuProfDir, nodeFlags: SETTINGS.sidecarNodeFlags });
        running.push(sidecar);
        targets.push({ scenario, base: `${sidecar.url}/${ROUTE}`, headers: {}, pid: sidecar.handle.child.pid });
      } else if (scenario === 'token-sidecar-accesslog') {
        // accessLog: true, its lines on a pipe this process drains (as a container runtime would).
        const logging = await startSidecar(dir, scenario, { accessLog: true, refresh: { eager: true }, routes: { [ROUTE]: route } }, { nodeFlags: SETTINGS.sidecarNodeFlags });
        running.push(logging);
        targets.push({ scenario, base: `${logging.url}/${ROUTE}`, headers: {}, pid: logging.handle.child.pid });
      } else if (scenario === 'bare-forwarder') {
        const floor = await startFloor(scenario, 'forwarder', { upstream: emulator.apiUrl, prefix: PREFIX, authorization, cpuProfDir });
        running.push(floor);
        targets.push({ scenario, base: `${floor.url}/${ROUTE}`, headers: {}, pid: floor.handle.child.pid });
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
      for (const path of SETTINGS.paths) for (const connections of SETTINGS.connections) {
        for (const target of order) {
          const pids = targets.flatMap((t) => (t.pid === undefined ? [] : [t.pid]));
          // A run that other processes disturbed is measured again (up to retries times); the least disturbed one counts.
          let run;
          for (let attempt = 0; attempt <= SETTINGS.retries; attempt += 1) {
            await waitForQuiet(pids);
            process.stderr.write(`round ${round}/${SETTINGS.rounds}  ${path.padEnd(14)} c${String(connections).padEnd(4)} ${target.scenario.padEnd(24)}`);
            const attemptRun = await measure(tools.wrk, target, path, connections, pids);
            const disturbed = attemptRun.backgroundCores > SETTINGS.disturbedCores;
            process.stderr.write(` ${fmt.rps(attemptRun.requestsPerSecond).padStart(8)} req/s  p50 ${fmt.ms(attemptRun.p50Ms)} ms  p99 ${fmt.ms(attemptRun.p99Ms)} ms  other load ${attemptRun.backgroundCores.toFixed(2)} cores${disturbed ? ' (disturbed)' : ''}\n`);
            if (run === undefined || attemptRun.backgroundCores < run.backgroundCores) run = attemptRun;
            if (!disturbed) break;
          }
          const key = `${path} ${connections} ${target.scenario}`;
          results.set(key, [...(results.get(key) ?? []), run]);
        }
      }
    }

    let sidecarMetrics;
    if (sidecar) sidecarMetrics = await tokenMetrics(sidecar.adminUrl);
    // Peak RSS over every load above (200 connections included), each process from its start.
    const peaks = new Map(targets.filter((t) => t.pid !== undefined).map((t) => [t.scenario, rssMb(t.pid).peak]));
    for (const proxy of running.splice(0)) await proxy.stop();
    const sidecarTokens = emulator.stats.tokenRequests - sidecarTokensBefore;

    log('## Steady state');
    log();
    for (const path of SETTINGS.paths) for (const connections of SETTINGS.connections) {
      const rows = targets.map(({ scenario }) => {
        const runs = results.get(`${path} ${connections} ${scenario}`);
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
      log(table(path, connections, rows));
      log();
      const invalid = rows.filter((row) => row.non2xx > 0 || row.socketErrors > 0);
      if (invalid.length > 0) {
        failed = true;
        log(`INVALID: ${invalid.map((row) => row.scenario).join(', ')} got non-2xx answers or socket errors on ${path} at ${connections} connections: their req/s do not measure forwarding`);
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
      const cold = await startSidecar(dir, 'token-sidecar-burst', { refresh: { eager: false }, routes: { [ROUTE]: route } }, { nodeFlags: SETTINGS.sidecarNodeFlags });
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

    const fp = await footprint(dir, route);
    const logs = await logCost({ rounds: QUICK ? 3 : 7, lines: QUICK ? 5_000 : 20_000 });
    log(footprintTable(fp, peaks));
    log();
    log(logTable(logs));
    log();
    log(targetsTable({ fp, peaks, results, logs }));
    log();

    if (cpuProfDir) {
      log('## CPU profiles');
      log();
      for (const name of ['token-sidecar', 'bare-forwarder', 'http-proxy-3']) {
        const file = join(cpuProfDir, `${name}.cpuprofile`);
        if (existsSync(file)) log(summarizeProfile(file, 25));
        log();
      }
    }
    log('Ratios: "× bare forwarder" is each scenario\'s throughput over the Node floor (node:http + undici Pool.stream); "× nginx" over wrk→nginx→emulator.');
    log('The emulator (Node) is the same in every proxied scenario, so both isolate what the proxy itself costs.');
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
