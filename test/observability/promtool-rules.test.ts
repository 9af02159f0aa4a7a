// The alert rules shipped in the chart are valid Prometheus rules, and each alert fires (and stays
// quiet) exactly as its promtool unit tests in alerts.test.yaml say.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runPromtool } from '../support/promtool.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ALERTS = 'helm/token-sidecar/files/alerts.yaml';
const ALERT_TESTS = 'helm/token-sidecar/files/alerts.test.yaml';
const EXPECTED_ALERTS = [
  'TokenSidecarRefreshFailing',
  'TokenSidecarTokenExpiringSoon',
  'TokenSidecarCredentialsRejected',
  'TokenSidecarHighErrorRatio',
  'TokenSidecarUpstreamRateLimitLow',
  'TokenSidecarGrantUnsaved',
];

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

async function alertRules(): Promise<AlertRule[]> {
  const file = parse(await readFile(`${ROOT}${ALERTS}`, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((group) => group.rules);
}

describe('Prometheus alert rules (helm/token-sidecar/files/alerts.yaml)', () => {
  it('pass `promtool check rules`', async () => {
    const result = await runPromtool(['check', 'rules', ALERTS], { cwd: ROOT });
    expect(result.stderr + result.stdout).toContain('SUCCESS: 6 rules found');
    expect(result.code, result.stderr).toBe(0);
  });

  it('pass their unit tests under `promtool test rules`', async () => {
    const result = await runPromtool(['test', 'rules', ALERT_TESTS], { cwd: ROOT });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('are the six alerts, each with a severity, summary, description and runbook', async () => {
    const rules = await alertRules();
    expect(rules.map((rule) => rule.alert)).toEqual(EXPECTED_ALERTS);
    for (const rule of rules) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) {
        expect(rule.annotations?.[key]?.trim().length ?? 0, `${rule.alert} ${key}`).toBeGreaterThan(20);
      }
      // Per-route alerts: every aggregation keeps the route label.
      for (const by of rule.expr.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)) {
        expect(by[1]?.split(',').map((s) => s.trim()), `${rule.alert}: ${by[0]}`).toContain('route');
      }
    }
  });

  it('each have a firing and a non-firing unit test case', async () => {
    const tests = parse(await readFile(`${ROOT}${ALERT_TESTS}`, 'utf8')) as AlertTestFile;
    expect(tests.rule_files).toEqual(['alerts.yaml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of EXPECTED_ALERTS) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(own.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} fires somewhere`).toBe(true);
      expect(own.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} stays quiet somewhere`).toBe(true);
    }
  });
});
