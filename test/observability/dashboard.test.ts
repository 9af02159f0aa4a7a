// The Grafana dashboard shipped in the chart: the panels an on-call needs, only metrics that
// SPEC §5 or prom-client's defaults define, PromQL that promtool accepts, and expressions that
// return data from a real Prometheus scraping SPEC-shaped metrics.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startPrometheus } from '../support/prometheus.js';
import { runPromtool } from '../support/promtool.js';
import { promqlNames } from './promql.js';
import { SPEC_METRICS, allowedSeries } from './spec-metrics.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD = join(ROOT, 'helm/token-sidecar/files/dashboard.json');
const ALERTS = join(ROOT, 'helm/token-sidecar/files/alerts.yaml');

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

/** The panels the observability issue asks for: title, metrics each must query, text its PromQL must hold. */
const REQUIRED_PANELS: Array<{ title: string; metrics: string[]; contains?: string[] }> = [
  { title: 'Request rate by route and code', metrics: ['token_sidecar_requests_total'], contains: ['by (route, code)'] },
  { title: 'Sidecar errors by code', metrics: ['token_sidecar_requests_total'], contains: ['by (code)', 'code=~"404|502|503|504"'] },
  {
    title: 'Request latency p50 / p90 / p99',
    metrics: ['token_sidecar_request_duration_seconds_bucket'],
    contains: ['histogram_quantile(0.5,', 'histogram_quantile(0.9,', 'histogram_quantile(0.99,'],
  },
  { title: 'Token refreshes by result and grant', metrics: ['token_sidecar_token_refresh_total'], contains: ['grant', 'result'] },
  { title: 'Seconds until token expiry', metrics: ['token_sidecar_token_expiry_timestamp_seconds'], contains: ['- time()'] },
  { title: 'Token cache by result', metrics: ['token_sidecar_token_cache_total'], contains: ['by (result)'] },
  { title: 'Upstream retries by route and reason', metrics: ['token_sidecar_upstream_retries_total'] },
  { title: 'Upstream rate limit remaining', metrics: ['token_sidecar_upstream_ratelimit_remaining'], contains: ['min by (route)'] },
  { title: 'Open WebSockets', metrics: ['token_sidecar_websockets'] },
  {
    title: 'Token refresh duration p99',
    metrics: ['token_sidecar_token_refresh_duration_seconds_bucket'],
    contains: ['histogram_quantile(0.99,'],
  },
  { title: 'Token store errors', metrics: ['token_sidecar_store_errors_total', 'token_sidecar_grant_unsaved'], contains: ['by (route, operation)'] },
  { title: 'Resident memory', metrics: ['process_resident_memory_bytes'] },
  { title: 'Event loop lag', metrics: ['nodejs_eventloop_lag_seconds'] },
];

async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included (a collapsed row keeps its panels inside). */
function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

function expressions(dashboard: Dashboard): Array<{ panel: Panel; refId: string; expr: string }> {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel, refId: target.refId ?? '?', expr: target.expr ?? '' })),
  );
}

/** Grafana's variables replaced by values a plain Prometheus accepts. */
function concrete(expr: string, rateInterval: string, route: string): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('${route}', route).replaceAll('$route', route);
}

describe('Grafana dashboard (helm/token-sidecar/files/dashboard.json)', () => {
  it('is a Grafana 10 dashboard with a Prometheus datasource variable and a route variable', async () => {
    const dashboard = await loadDashboard();
    expect(dashboard.uid).toBe('token-sidecar');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));

    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const route = variables.get('route');
    expect(route).toMatchObject({ type: 'query', includeAll: true, multi: true, allValue: '.*' });
    expect(route?.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    const routeQuery = typeof route?.query === 'string' ? route.query : route?.query?.query;
    expect(routeQuery).toBe('label_values(token_sidecar_requests_total, route)');
    expect(route?.definition).toBe(routeQuery);

    for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const target of panel.targets ?? []) expect(target.datasource, panel.title).toEqual(panel.datasource);
    }
  });

  it('has every panel the on-call needs, each querying the right metric', async () => {
    const dashboard = await loadDashboard();
    const byTitle = new Map(allPanels(dashboard).map((p) => [p.title, p]));
    for (const required of REQUIRED_PANELS) {
      const panel = byTitle.get(required.title);
      expect(panel, `panel "${required.title}"`).toBeDefined();
      const exprs = (panel?.targets ?? []).map((t) => t.expr ?? '').join('\n');
      for (const metric of required.metrics) expect(exprs, required.title).toContain(metric);
      for (const text of required.contains ?? []) expect(exprs, required.title).toContain(text);
    }
  });

  it('has the panels the alert runbooks point to', async () => {
    const dashboard = await loadDashboard();
    const titles = allPanels(dashboard).map((p) => p.title);
    const runbooks = await readFile(ALERTS, 'utf8');
    const referenced = [...runbooks.matchAll(/[Pp]anel \\?"([^"\\]+)\\?"|\\?"([^"\\]+)\\?" panel/g)].map((m) => m[1] ?? m[2] ?? '');
    expect(referenced.length).toBeGreaterThan(0);
    for (const title of referenced) expect(titles.some((t) => t.startsWith(title)), `panel "${title}"`).toBe(true);
  });

  it('has unique panel ids and no overlapping panels', async () => {
    const panels = allPanels(await loadDashboard());
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, a] of panels.entries()) {
      for (const b of panels.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `"${a.title}" and "${b.title}" overlap`).toBe(false);
      }
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
    }
  });

  it('queries only metrics and labels of SPEC §5 and prom-client defaults, filtered by $route', async () => {
    const allowed = await allowedSeries();
    const exprs = expressions(await loadDashboard());
    expect(exprs.length).toBeGreaterThanOrEqual(REQUIRED_PANELS.length);
    for (const { panel, refId, expr } of exprs) {
      const where = `${panel.title} ${refId}: ${expr}`;
      const names = promqlNames(expr);
      expect(names.unknownFunctions, where).toEqual([]);
      expect(names.metrics.length, where).toBeGreaterThan(0);
      const labels = new Set<string>();
      for (const metric of names.metrics) {
        expect(allowed.has(metric), `${where}\nunknown metric ${metric}`).toBe(true);
        for (const label of allowed.get(metric) ?? []) labels.add(label);
      }
      for (const label of names.labels) expect(labels.has(label), `${where}\nunknown label ${label}`).toBe(true);
      expect(expr, where).toContain('route=~"$route"');
    }
  });

  it('holds only PromQL that promtool accepts', async () => {
    const exprs = expressions(await loadDashboard());
    const rules = exprs.map(({ panel, refId, expr }) => ({
      record: `dashboard:panel_${panel.id}_${refId}`,
      expr: concrete(expr, '1m', 'covver'),
    }));
    for (const rule of rules) expect(rule.expr, rule.record).not.toMatch(/\$/); // no Grafana variable left over
    const dir = await mkdtemp(join(tmpdir(), 'dashboard-promql-'));
    try {
      const file = join(dir, 'dashboard-rules.yaml');
      await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const result = await runPromtool(['check', 'rules', file]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns data for every expression from a real Prometheus scraping SPEC-shaped metrics', async () => {
    const exporter = await startSpecExporter();
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval: '1s' });
    try {
      for (const { panel, refId, expr } of expressions(await loadDashboard())) {
        const query = concrete(expr, '5s', 'covver');
        const result = await prometheus.waitFor(
          query,
          (v) => v.length > 0 && v.every((s) => Number.isFinite(s.value)),
          10_000,
        );
        expect(result.length, `${panel.title} ${refId}`).toBeGreaterThan(0);
      }
    } finally {
      await prometheus.close();
      await exporter.close();
    }
  });
});

/** A /metrics endpoint with every SPEC §5 metric and prom-client's defaults, moving on each scrape. */
async function startSpecExporter(): Promise<{ target: string; close(): Promise<void> }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metric = (name: string) => {
    const spec = SPEC_METRICS.find((m) => m.name === name);
    if (!spec) throw new Error(`${name} is not in SPEC §5`);
    return { name, help: name, labelNames: spec.labels, registers: [registry] };
  };
  const refresh = new Counter(metric('token_sidecar_token_refresh_total'));
  const refreshDuration = new Histogram(metric('token_sidecar_token_refresh_duration_seconds'));
  const expiry = new Gauge(metric('token_sidecar_token_expiry_timestamp_seconds'));
  const cache = new Counter(metric('token_sidecar_token_cache_total'));
  const requests = new Counter(metric('token_sidecar_requests_total'));
  const requestDuration = new Histogram(metric('token_sidecar_request_duration_seconds'));
  const retries = new Counter(metric('token_sidecar_upstream_retries_total'));
  const websockets = new Gauge(metric('token_sidecar_websockets'));
  const rateLimitRemaining = new Gauge(metric('token_sidecar_upstream_ratelimit_remaining'));
  const rateLimitReset = new Gauge(metric('token_sidecar_upstream_ratelimit_reset_timestamp_seconds'));
  const unsaved = new Gauge(metric('token_sidecar_grant_unsaved'));
  const storeErrors = new Counter(metric('token_sidecar_store_errors_total'));

  const server = createServer((_req, res) => {
    for (const route of ['covver', 'light']) {
      for (const result of ['success', 'error', 'rejected']) {
        refresh.inc({ route, provider: route, grant: 'client_credentials', result });
      }
      refreshDuration.observe({ route, provider: route }, 0.08);
      expiry.set({ route }, Date.now() / 1000 + 300);
      websockets.set({ route }, 2);
      rateLimitRemaining.set({ route }, 120);
      rateLimitReset.set({ route }, Date.now() / 1000 + 30);
      for (const result of ['hit', 'miss', 'coalesced']) cache.inc({ route, result });
      requests.inc({ route, method: 'GET', code: '200' }, 10);
      requests.inc({ route, method: 'GET', code: '503' });
      requestDuration.observe({ route }, 0.04);
      retries.inc({ route, reason: 'unauthorized' });
      unsaved.set({ route }, 1);
      storeErrors.inc({ route, operation: 'set' });
    }
    registry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        registry.clear();
      }),
  };
}
