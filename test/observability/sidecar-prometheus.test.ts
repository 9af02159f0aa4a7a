// A real Prometheus (Debian's package) scrapes the built sidecar's admin /metrics every second
// while a paced traffic loop runs; Prometheus's HTTP API then shows the rate the loop sent, and
// refresh and cache counters that match the token endpoint and the requests, exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { startPrometheus, type PromVector, type RunningPrometheus } from '../support/prometheus.js';
import { startSidecar, waitFor, type RunningSidecar } from '../support/sidecar.js';
import { call, routeFor } from './sidecar-kit.js';

const RATE = 20; // requests per second, over both routes
const ROUTES = ['covver', 'cobee'] as const;
const OURS = 'route=~"covver|cobee"';

let emulators: Record<(typeof ROUTES)[number], Emulator>;
let sidecar: RunningSidecar;
let prometheus: RunningPrometheus;
const sent: Record<string, number> = { covver: 0, cobee: 0 };
const failures: string[] = [];
let traffic: { stop(): Promise<void> } | undefined;

async function send(route: string): Promise<void> {
  try {
    const answer = await call(`${sidecar.url}/${route}/whoami`);
    if (answer.status !== 200) failures.push(`${route}: ${answer.status}`);
  } catch (error) {
    failures.push(`${route}: ${String(error)}`);
  } finally {
    sent[route] = (sent[route] ?? 0) + 1;
  }
}

/** Fires one request every 1000/RATE ms, alternating routes, without waiting for answers. */
function startTraffic(): { stop(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  let tick = 0;
  const timer = setInterval(() => {
    const route = ROUTES[tick % ROUTES.length] as string;
    tick += 1;
    const request = send(route).finally(() => pending.delete(request));
    pending.add(request);
  }, 1000 / RATE);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}

const value = (vector: PromVector, labels: Record<string, string> = {}): number | undefined =>
  vector.find((sample) => Object.entries(labels).every(([key, wanted]) => sample.metric[key] === wanted))?.value;

beforeAll(async () => {
  emulators = { covver: await startEmulator('covver'), cobee: await startEmulator('cobee') };
  sidecar = await startSidecar({ routes: { covver: routeFor(emulators.covver), cobee: routeFor(emulators.cobee) } });
  for (const route of ROUTES) {
    await waitFor(async () => {
      const answer = await call(`${sidecar.url}/${route}/whoami`);
      sent[route] = (sent[route] ?? 0) + 1;
      return answer.status === 200 ? true : undefined;
    }, { what: `${route} to serve` });
  }
  prometheus = await startPrometheus({ targets: [new URL(sidecar.adminUrl).host], scrapeInterval: '1s' });
  traffic = startTraffic();
});

afterAll(async () => {
  await traffic?.stop();
  await prometheus?.close();
  await sidecar?.stop();
  await Promise.all(Object.values(emulators ?? {}).map((emulator) => emulator.close()));
});

describe('a real Prometheus scraping the sidecar under steady traffic', () => {
  it(`sees rate(token_sidecar_requests_total[10s]) near the ${RATE} req/s sent`, { timeout: 30_000 }, async () => {
    await prometheus.waitFor('up{job="test"}', (v) => value(v) === 1, 15_000);
    // A window mostly filled with scrapes taken under traffic, not just its first edge.
    await prometheus.waitFor(`count_over_time(token_sidecar_requests_total{route="covver",method="GET",code="200"}[10s])`, (v) => (value(v) ?? 0) >= 6, 20_000);
    const total = await prometheus.waitFor(`sum(rate(token_sidecar_requests_total{${OURS}}[10s]))`, (v) => {
      const rate = value(v) ?? 0;
      return rate >= RATE * 0.6 && rate <= RATE * 1.4;
    }, 10_000);
    expect(value(total)).toBeGreaterThan(RATE * 0.6);
    const byRoute = await prometheus.query(`sum by (route, code) (rate(token_sidecar_requests_total{${OURS}}[10s]))`);
    for (const route of ROUTES) {
      expect(value(byRoute, { route, code: '200' }), route).toBeGreaterThan((RATE / ROUTES.length) * 0.5);
      expect(value(byRoute, { route, code: '200' }), route).toBeLessThan((RATE / ROUTES.length) * 1.5);
    }
    expect(byRoute.filter((sample) => sample.metric.code !== '200')).toEqual([]);
    // Latency comes through too: a histogram quantile Prometheus can compute.
    const p99 = await prometheus.query(`histogram_quantile(0.99, sum by (le) (rate(token_sidecar_request_duration_seconds_bucket{${OURS}}[10s])))`);
    expect(value(p99)).toBeGreaterThan(0);
    expect(value(p99)).toBeLessThan(5);
  });

  it('once traffic stops, the totals Prometheus holds equal what was sent and what the token endpoints saw', { timeout: 30_000 }, async () => {
    await traffic?.stop();
    expect(failures).toEqual([]);
    const requests = await prometheus.waitFor(`sum by (route) (token_sidecar_requests_total{${OURS}})`, (v) => ROUTES.every((route) => value(v, { route }) === sent[route]), 10_000);
    for (const route of ROUTES) expect(value(requests, { route }), route).toBe(sent[route]);

    // One token request per route at start-up: the lifetimes (covver 600 s, cobee 1 day) outlast the test.
    const refresh = await prometheus.query('sum by (route, result) (token_sidecar_token_refresh_total)');
    for (const route of ROUTES) {
      const { stats } = emulators[route];
      expect(stats.tokenRequests, route).toBe(1);
      expect(value(refresh, { route, result: 'success' }), route).toBe(stats.issuedTokens);
      expect(value(refresh, { route, result: 'rejected' }), route).toBe(0);
      expect(value(refresh, { route, result: 'error' }), route).toBe(0);
    }
    const refreshTotal = await prometheus.query(`sum(token_sidecar_token_refresh_total{${OURS}})`);
    expect(value(refreshTotal)).toBe(emulators.covver.stats.tokenRequests + emulators.cobee.stats.tokenRequests);

    // Every request looked the token up once; all but a first one that met the start-up fetch were hits.
    const cache = await prometheus.query(`sum by (route, result) (token_sidecar_token_cache_total{${OURS}})`);
    for (const route of ROUTES) {
      const lookups = ['hit', 'miss', 'coalesced'].reduce((total, result) => total + (value(cache, { route, result }) ?? 0), 0);
      expect(lookups, route).toBe(sent[route]);
      expect(value(cache, { route, result: 'hit' }), route).toBeGreaterThanOrEqual((sent[route] ?? 0) - 1);
    }
    const expiry = await prometheus.query('token_sidecar_token_expiry_timestamp_seconds - time()');
    expect(value(expiry, { route: 'covver' })).toBeGreaterThan(500);
    expect(value(expiry, { route: 'covver' })).toBeLessThanOrEqual(600);
  });
});
