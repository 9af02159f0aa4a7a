import { describe, expect, it } from 'vitest';
import { CHART, FIXTURES, helm, renderError } from './kit.js';

describe('helm lint --strict', () => {
  it('passes with the default values', async () => {
    const result = await helm(['lint', '--strict', CHART]);
    expect(result.stderr + result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });

  it('passes with the full values', async () => {
    const result = await helm(['lint', '--strict', CHART, '--values', `${FIXTURES}full-values.yaml`]);
    expect(result.stderr + result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });

  it('passes in classic sidecar mode', async () => {
    const result = await helm(['lint', '--strict', CHART, '--values', `${FIXTURES}full-values.yaml`, '--set', 'sidecar.native=false']);
    expect(result.stderr + result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });
});

describe('kubeVersion', () => {
  it('refuses clusters older than 1.29 (no native sidecars)', async () => {
    expect(await renderError({ kubeVersion: '1.28.9' })).toMatch(/chart requires kubeVersion: >=1\.29\.0-0/);
  });
});
