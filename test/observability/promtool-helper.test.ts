// test/support/promtool.ts: checkMetrics() passes clean exposition text and names each problem
// `promtool check metrics` finds, for the "our own metrics lint clean" test.
import { describe, expect, it } from 'vitest';
import { checkMetrics } from '../support/promtool.js';

describe('checkMetrics (test/support/promtool.ts)', () => {
  it('passes clean exposition text', async () => {
    const text = [
      '# HELP token_sidecar_requests_total Requests answered to apps.',
      '# TYPE token_sidecar_requests_total counter',
      'token_sidecar_requests_total{route="covver",method="GET",code="200"} 3',
      '',
    ].join('\n');
    expect(await checkMetrics(text)).toEqual({ ok: true, problems: [] });
  });

  it('names each lint problem, one per line', async () => {
    const text = ['# TYPE token_sidecar_requests counter', 'token_sidecar_requests 3', ''].join('\n');
    const result = await checkMetrics(text);
    expect(result.ok).toBe(false);
    expect(result.problems).toContain('token_sidecar_requests counter metrics should have "_total" suffix');
    expect(result.problems).toContain('token_sidecar_requests no help text');
  });

  it('reports text that does not parse', async () => {
    const result = await checkMetrics('not{{ metrics\n');
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toMatch(/parsing error/);
  });
});
