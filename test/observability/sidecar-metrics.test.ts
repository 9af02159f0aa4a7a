// The built sidecar's /metrics after real traffic: every SPEC §5 metric with exactly its type and
// label names, prom-client's default metrics and nothing else, a clean `promtool check metrics`
// for token_sidecar_*, bounded label values (no paths, methods or secrets leak into labels),
// an expiry gauge that matches the token, and refresh counters that match the token endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulator, type EmulatorSet } from '../../src/emulators/index.js';
import { checkMetrics } from '../support/promtool.js';
import { startSidecar, waitFor, type RunningSidecar } from '../support/sidecar.js';
import { call, looksLikeToken, mark, routeFor, scrape, sum, type Family } from './sidecar-kit.js';
import { promClientDefaultSeries, SPEC_METRICS } from './spec-metrics.js';

const COVVER_LIFETIME = 120;
const secrets = { wrong: mark('obs-wrong-secret'), apiKey: mark('obs-light-api-key') };
const ROUTES = ['covver', 'cobee', 'petje', 'wrong-secret', 'light-key'] as const;
const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'];
const ODD_METHODS = ['PROPFIND', 'MKCOL', 'PURGE', 'REPORT', 'LOCK'];
const DISTINCT = 200;

let emulators: EmulatorSet;
let sidecar: RunningSidecar;
let sent = 0;
/** Series count of the request metrics after one request of each kind, before the distinct paths. */
let seriesBefore: Record<string, number>;
let families: Map<string, Family>;
let text: string;

async function send(path: string, method = 'GET'): Promise<number> {
  const answer = await call(`${sidecar.url}${path}`, { method });
  sent += 1;
  return answer.status;
}

function requestSeries(all: Map<string, Family>): Record<string, number> {
  const count = (name: string) => all.get(name)?.samples.length ?? 0;
  return { requests: count('token_sidecar_requests_total'), duration: count('token_sidecar_request_duration_seconds') };
}

/** Scrapes once every request sent so far is counted (the counter moves when the answer closes). */
async function settledScrape() {
  return waitFor(async () => {
    const scraped = await scrape(sidecar.adminUrl);
    return sum(scraped.families, 'token_sidecar_requests_total') === sent ? scraped : undefined;
  }, { what: `token_sidecar_requests_total to reach ${sent}` });
}

beforeAll(async () => {
  emulators = await startEmulators({ perProvider: { covver: { lifetimeSeconds: COVVER_LIFETIME }, light: { apiKeys: [secrets.apiKey] } } });
  sidecar = await startSidecar({
    refresh: { rejectedRetry: '1h' },
    routes: {
      covver: routeFor(emulators.covver),
      cobee: routeFor(emulators.cobee),
      petje: routeFor(emulators.petje),
      // Its own client id: routes with one provider, token URL and client id share a credential.
      'wrong-secret': { ...routeFor(emulators.covver), credentials: { clientId: 'obs-unknown-client', clientSecret: secrets.wrong } },
      'light-key': { provider: 'light', upstream: emulators.light.apiUrl, tokenUrl: emulators.light.tokenUrl, credentials: { apiKey: secrets.apiKey } },
    },
  });
  for (const route of ['covver', 'cobee', 'petje', 'light-key']) {
    await waitFor(async () => ((await send(`/${route}/whoami`)) === 200 ? true : undefined), { what: `${route} to serve` });
  }
  // One of each kind: errors (no_route, token_rejected, an upstream 500), a 401 retried, odd methods.
  expect(await send('/nope/whoami')).toBe(404);
  expect(await send('/wrong-secret/whoami')).toBe(502);
  expect(await send('/cobee/status/500')).toBe(500);
  emulators.covver.injectApiFault({ fault: { kind: 'unauthorized' }, times: 1 });
  expect(await send('/covver/whoami')).toBe(200);
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) await send('/cobee/whoami', method);
  for (const method of ODD_METHODS) expect(await send('/cobee/whoami', method)).toBe(200);
  await send('/covver/items/0?id=0');
  await send('/unknown-0/items');
  seriesBefore = requestSeries((await settledScrape()).families);

  // Now many distinct paths, matched and unmatched, and the odd methods again.
  const jobs: Array<() => Promise<number>> = [];
  for (let i = 1; i <= DISTINCT; i += 1) {
    jobs.push(() => send(`/covver/items/${i}?id=${i}&secret=${secrets.wrong}`));
    jobs.push(() => send(`/unknown-${i}/items/${i}`));
    jobs.push(() => send(`/cobee/items/${i}`, ODD_METHODS[i % ODD_METHODS.length]));
  }
  for (let i = 0; i < jobs.length; i += 25) await Promise.all(jobs.slice(i, i + 25).map((job) => job()));
  ({ families, text } = await settledScrape());
});

afterAll(async () => {
  await sidecar?.stop();
  await emulators?.close();
});

describe('SPEC §5 metrics of the running sidecar', () => {
  it.each(SPEC_METRICS)('$name is exposed as a $type with labels $labels', ({ name, type, labels }) => {
    const family = families.get(name);
    expect(family, `${name} missing from /metrics`).toBeDefined();
    expect(family?.type).toBe(type);
    expect(family?.help, `${name} has no HELP`).toMatch(/\S/);
    expect(family?.samples.length, `${name} has no series after the traffic`).toBeGreaterThan(0);
    const expected = [...labels].sort();
    for (const sample of family?.samples ?? []) {
      const names = Object.keys(sample.labels).filter((label) => !(sample.name.endsWith('_bucket') && label === 'le')).sort();
      expect(names, `${sample.name} ${JSON.stringify(sample.labels)}`).toEqual(expected);
      if (type === 'histogram') expect([`${name}_bucket`, `${name}_sum`, `${name}_count`]).toContain(sample.name);
      else expect(sample.name).toBe(name);
    }
  });

  it("exposes prom-client's default process and Node.js metrics, and nothing outside SPEC §5 and those", async () => {
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_version_info']) {
      expect(families.get(name)?.samples.length, name).toBeGreaterThan(0);
    }
    const defaults = new Set([...(await promClientDefaultSeries()).keys()].map((series) => series.replace(/_(bucket|sum|count)$/, '')));
    for (const name of defaults) expect(families.has(name) || families.has(`${name}_count`), `default metric ${name}`).toBe(true);
    const spec = new Set(SPEC_METRICS.map((metric) => metric.name));
    const stray = [...families.keys()].filter((name) => !spec.has(name) && !defaults.has(name) && !defaults.has(name.replace(/_(bucket|sum|count)$/, '')));
    expect(stray).toEqual([]);
  });

  it('promtool check metrics finds no problem with token_sidecar_* (default-metric notes filtered by name only)', async () => {
    const defaults = new Set([...(await promClientDefaultSeries()).keys()].map((series) => series.replace(/_(bucket|sum|count)$/, '')));
    const full = await checkMetrics(text);
    const ours = full.problems.filter((problem) => !defaults.has(problem.split(/\s/)[0] ?? ''));
    expect(ours).toEqual([]);
    const onlyOurs = text.split('\n').filter((line) => /^(# (HELP|TYPE) )?token_sidecar_/.test(line)).join('\n');
    expect(onlyOurs).toContain('token_sidecar_requests_total{');
    expect(await checkMetrics(`${onlyOurs}\n`)).toEqual({ ok: true, problems: [] });
  });
});

describe('label values are bounded', () => {
  it(`${DISTINCT * 3} requests to distinct paths and odd methods add no request series`, () => {
    expect(requestSeries(families)).toEqual(seriesBefore);
    const series = families.get('token_sidecar_requests_total')?.samples ?? [];
    const routes = new Set(series.map((sample) => sample.labels.route));
    const methods = new Set(series.map((sample) => sample.labels.method));
    const codes = new Set(series.map((sample) => sample.labels.code));
    expect(series.length).toBeLessThanOrEqual(routes.size * methods.size * codes.size);
    expect(series.length).toBeLessThan(40);
    expect([...routes].sort()).toEqual([...ROUTES, '_unmatched'].sort());
    for (const method of methods) expect(METHOD_LABELS).toContain(method);
    for (const code of codes) expect(code).toMatch(/^[1-5]\d\d$/);
    // The odd methods are all OTHER: 1 + DISTINCT of them went to cobee.
    expect(sum(families, 'token_sidecar_requests_total', { route: 'cobee', method: 'OTHER' })).toBe(ODD_METHODS.length + DISTINCT);
    expect(sum(families, 'token_sidecar_requests_total', { route: '_unmatched', code: '404' })).toBe(DISTINCT + 2);
  });

  it('no label value of token_sidecar_* holds a path, a query, a token or a secret', () => {
    for (const [name, family] of families) {
      if (!name.startsWith('token_sidecar_')) continue;
      for (const sample of family.samples) {
        for (const [label, value] of Object.entries(sample.labels)) {
          const where = `${sample.name}{${label}="${value}"}`;
          expect(value, where).not.toMatch(/[/?=&]|items|unknown-|PROPFIND|whoami/);
          expect(looksLikeToken(value), where).toBe(false);
          if (label !== 'le') expect(value, where).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
        }
      }
    }
    for (const secret of Object.values(secrets)) expect(text).not.toContain(secret);
    expect(looksLikeToken(text)).toBe(false);
  });
});

describe('token metrics tell the truth', () => {
  it('token_sidecar_token_expiry_timestamp_seconds{route} is the current token expiry, within its lifetime of now', () => {
    const now = Date.now() / 1000;
    const covver = sum(families, 'token_sidecar_token_expiry_timestamp_seconds', { route: 'covver' });
    expect(covver).toBeGreaterThan(now);
    expect(covver).toBeLessThanOrEqual(now + COVVER_LIFETIME + 1);
    // The same instant the last token_refresh log line of the route announced.
    const last = sidecar.logs.filter((line) => line.event === 'token_refresh' && line.route === 'covver').at(-1);
    expect(Date.parse(String(last?.expiresAt)) / 1000).toBeCloseTo(covver, 2);
    for (const [route, lifetime] of [['cobee', 86_400], ['petje', 3599]] as const) {
      const expiry = sum(families, 'token_sidecar_token_expiry_timestamp_seconds', { route });
      expect(expiry, route).toBeGreaterThan(now);
      expect(expiry, route).toBeLessThanOrEqual(now + lifetime + 1);
    }
    // A static API key and rejected credentials have no token to expire.
    const routes = (families.get('token_sidecar_token_expiry_timestamp_seconds')?.samples ?? []).map((sample) => sample.labels.route);
    expect(routes.sort()).toEqual(['cobee', 'covver', 'petje']);
  });

  it("token_sidecar_token_refresh_total by grant and result matches each emulator's count of token requests", () => {
    const check = (emulator: Emulator) => {
      const { provider, stats } = emulator;
      const grants = new Set(Object.keys(stats.byGrant));
      for (const sample of families.get('token_sidecar_token_refresh_total')?.samples ?? []) {
        if (sample.labels.provider === provider && sample.value > 0) grants.add(sample.labels.grant ?? '');
      }
      for (const grant of grants) {
        expect(sum(families, 'token_sidecar_token_refresh_total', { provider, grant }), `${provider} ${grant}`).toBe(stats.byGrant[grant] ?? 0);
      }
      expect(sum(families, 'token_sidecar_token_refresh_total', { provider }), provider).toBe(stats.tokenRequests);
      expect(sum(families, 'token_sidecar_token_refresh_total', { provider, result: 'success' }), provider).toBe(stats.issuedTokens);
      expect(sum(families, 'token_sidecar_token_refresh_duration_seconds_count', { provider }), provider).toBe(stats.tokenRequests);
    };
    for (const emulator of [emulators.covver, emulators.cobee, emulators.petje, emulators.light]) check(emulator);
    // What the traffic implies: covver fetched twice (start, then after the 401), petje used its refresh token, wrong-secret was rejected once.
    expect(sum(families, 'token_sidecar_token_refresh_total', { route: 'covver', result: 'success' })).toBe(2);
    expect(sum(families, 'token_sidecar_token_refresh_total', { route: 'petje', grant: 'refresh_token', result: 'success' })).toBe(1);
    expect(sum(families, 'token_sidecar_token_refresh_total', { route: 'wrong-secret', result: 'rejected' })).toBe(1);
    expect(emulators.light.stats.tokenRequests).toBe(0);
    expect(sum(families, 'token_sidecar_upstream_retries_total', { route: 'covver', reason: 'unauthorized' })).toBe(1);
  });
});
