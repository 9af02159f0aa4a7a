// SPEC §5 as data, for the observability tests: the dashboard and alerts may use these metrics
// and prom-client's default ones, nothing else.
import { Registry, collectDefaultMetrics } from 'prom-client';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface SpecMetric {
  name: string;
  type: MetricType;
  labels: readonly string[];
}

export const SPEC_METRICS: readonly SpecMetric[] = [
  { name: 'token_sidecar_token_refresh_total', type: 'counter', labels: ['route', 'provider', 'grant', 'result'] },
  { name: 'token_sidecar_token_refresh_duration_seconds', type: 'histogram', labels: ['route', 'provider'] },
  { name: 'token_sidecar_token_expiry_timestamp_seconds', type: 'gauge', labels: ['route'] },
  { name: 'token_sidecar_token_cache_total', type: 'counter', labels: ['route', 'result'] },
  { name: 'token_sidecar_requests_total', type: 'counter', labels: ['route', 'method', 'code'] },
  { name: 'token_sidecar_websockets', type: 'gauge', labels: ['route'] },
  { name: 'token_sidecar_upstream_ratelimit_remaining', type: 'gauge', labels: ['route'] },
  { name: 'token_sidecar_upstream_ratelimit_reset_timestamp_seconds', type: 'gauge', labels: ['route'] },
  { name: 'token_sidecar_request_duration_seconds', type: 'histogram', labels: ['route'] },
  { name: 'token_sidecar_upstream_retries_total', type: 'counter', labels: ['route', 'reason'] },
  // Beyond SPEC §5's table, documented in the README: a grant the store has not accepted is
  // "shown in /readyz and a metric" (the issue "Never lose a grant"), and store failures behind it.
  { name: 'token_sidecar_grant_unsaved', type: 'gauge', labels: ['route'] },
  { name: 'token_sidecar_store_errors_total', type: 'counter', labels: ['route', 'operation'] },
  // Issue 10: how many credentials the cache holds (tenants included), bounded by cache.maxEntries.
  { name: 'token_sidecar_token_cache_entries', type: 'gauge', labels: [] },
];

/** Labels Prometheus adds on scrape, or Kubernetes service discovery relabels in. */
export const TARGET_LABELS: readonly string[] = ['instance', 'job', 'namespace', 'pod'];

/** The series names a metric of this type exposes (histograms: _bucket, _sum, _count). */
export function seriesNames(name: string, type: MetricType): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/** Series names of prom-client's default process and Node.js metrics, read from prom-client itself. */
export async function promClientDefaultSeries(): Promise<Map<string, string[]>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = await registry.getMetricsAsJSON();
  const series = new Map<string, string[]>();
  for (const metric of metrics) {
    // prom-client's typings say a numeric enum; at run time `type` is the exposition's word.
    const type = String(metric.type) as MetricType;
    const labels = new Set<string>();
    for (const value of metric.values) for (const label of Object.keys(value.labels)) labels.add(label);
    if (type === 'histogram') labels.add('le');
    for (const name of seriesNames(metric.name, type)) series.set(name, [...labels]);
  }
  registry.clear();
  return series;
}

/** Every series name the sidecar exposes, with the labels each can carry (target labels included). */
export async function allowedSeries(): Promise<Map<string, Set<string>>> {
  const allowed = new Map<string, Set<string>>();
  for (const metric of SPEC_METRICS) {
    const labels = [...metric.labels, ...TARGET_LABELS, ...(metric.type === 'histogram' ? ['le'] : [])];
    for (const name of seriesNames(metric.name, metric.type)) allowed.set(name, new Set(labels));
  }
  for (const [name, labels] of await promClientDefaultSeries()) {
    allowed.set(name, new Set([...labels, ...TARGET_LABELS]));
  }
  return allowed;
}
