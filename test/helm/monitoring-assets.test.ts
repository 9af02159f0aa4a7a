// templates/prometheusrule.yaml and templates/dashboard-configmap.yaml, which wrap files/alerts.yaml
// and files/dashboard.json (owned by the observability assets). The behaviour is tested on a copy
// of the chart with known files; the real files are checked for rendering as they are.
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART, copyChart, dataOf, only, render, renderError, tempDir, validateAll } from './kit.js';

const ALERTS = `groups:
  - name: token-sidecar
    rules:
      - alert: TokenSidecarTokenRejected
        expr: increase(token_sidecar_token_refresh_total{result="rejected"}[5m]) > 0
        labels:
          severity: critical
        annotations:
          summary: 'Route {{ $labels.route }}: credentials rejected'
`;
const DASHBOARD = JSON.stringify({ uid: 'token-sidecar', title: 'token-sidecar', panels: [] }, null, 2);
const ON = ['prometheusRule.enabled=true', 'dashboard.enabled=true'];

let work: { dir: string; cleanup: () => Promise<void> };
let withFiles: string;
let withoutFiles: string;

beforeAll(async () => {
  work = await tempDir('monitoring-assets');
  withFiles = join(work.dir, 'with-files', 'token-sidecar');
  withoutFiles = join(work.dir, 'without-files', 'token-sidecar');
  for (const chart of [withFiles, withoutFiles]) {
    await copyChart(chart);
    await rm(join(chart, 'files'), { recursive: true, force: true });
  }
  await mkdir(join(withFiles, 'files'));
  await writeFile(join(withFiles, 'files', 'alerts.yaml'), ALERTS);
  await writeFile(join(withFiles, 'files', 'dashboard.json'), DASHBOARD);
});

afterAll(async () => {
  await work?.cleanup();
});

describe('PrometheusRule', () => {
  it('is off by default', async () => {
    expect((await render({ chart: withFiles })).filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
  });

  it('carries files/alerts.yaml as its spec, alert templates untouched', async () => {
    const rule = only(await render({ chart: withFiles, set: [...ON, 'prometheusRule.labels.release=kps'] }), 'PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.namespace).toBe('team-a');
    expect(rule.metadata.labels).toMatchObject({ release: 'kps', 'app.kubernetes.io/name': 'token-sidecar' });
    expect(rule.spec).toEqual(parse(ALERTS));
  });

  it('is skipped, not broken, when files/alerts.yaml is absent', async () => {
    const objects = await render({ chart: withoutFiles, set: ON });
    expect(objects.filter((o) => o.kind === 'PrometheusRule' || o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('fails with the file name when files/alerts.yaml is not YAML', async () => {
    const broken = join(work.dir, 'broken', 'token-sidecar');
    await copyChart(broken);
    await rm(join(broken, 'files'), { recursive: true, force: true });
    await mkdir(join(broken, 'files'));
    await writeFile(join(broken, 'files', 'alerts.yaml'), 'groups: [unclosed\n');
    expect(await renderError({ chart: broken, set: ON })).toMatch(/files\/alerts\.yaml: not valid YAML/);
  });
});

describe('Grafana dashboard ConfigMap', () => {
  it('is off by default', async () => {
    expect((await render({ chart: withFiles })).filter((o) => o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('holds files/dashboard.json with the grafana_dashboard: "1" discovery label', async () => {
    const objects = await render({ chart: withFiles, set: [...ON, 'dashboard.namespace=grafana', 'dashboard.annotations.grafana_folder=Platform'] });
    const cm = only(objects, 'ConfigMap', 'rel-token-sidecar-dashboard');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(cm.metadata.namespace).toBe('grafana');
    expect(cm.metadata.annotations).toEqual({ grafana_folder: 'Platform' });
    expect(JSON.parse(dataOf(cm)['token-sidecar.json'] ?? '')).toEqual(JSON.parse(DASHBOARD));
    validateAll(objects);
  });
});

describe('the real files/ of the chart', () => {
  const alerts = join(CHART, 'files', 'alerts.yaml');
  const dashboard = join(CHART, 'files', 'dashboard.json');

  it('render when present (and are skipped when not yet written)', async () => {
    const objects = await render({ set: ON });
    validateAll(objects);
    const rules = objects.filter((o) => o.kind === 'PrometheusRule');
    expect(rules).toHaveLength(existsSync(alerts) ? 1 : 0);
    if (existsSync(alerts)) {
      expect(rules[0]?.spec).toEqual(parse(readFileSync(alerts, 'utf8')));
      expect((rules[0]?.spec as { groups?: unknown[] }).groups?.length).toBeGreaterThan(0);
    }
    const dashboards = objects.filter((o) => o.metadata.name === 'rel-token-sidecar-dashboard');
    expect(dashboards).toHaveLength(existsSync(dashboard) ? 1 : 0);
    if (existsSync(dashboard)) {
      expect(JSON.parse(dashboards[0] ? (dataOf(dashboards[0])['token-sidecar.json'] ?? '') : '')).toEqual(JSON.parse(readFileSync(dashboard, 'utf8')));
    }
  });
});
