import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, errorAnswer, SidecarError, type ErrorCode } from '../../src/errors.js';

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

function documentedErrors(): Map<string, number> {
  const start = readme.indexOf('<!-- errors-table');
  expect(start, 'README has the errors table marker').toBeGreaterThan(-1);
  const rows = readme.slice(start).split('\n').slice(3);
  const documented = new Map<string, number>();
  for (const row of rows) {
    const match = /^\| (\d{3}) \| `([a-z_]+)` \|/.exec(row);
    if (!match) break;
    documented.set(match[2] as string, Number(match[1]));
  }
  return documented;
}

describe('the error-code table', () => {
  it('documents every code in the README with its status, and nothing else', () => {
    const documented = documentedErrors();
    expect(new Set(documented.keys())).toEqual(new Set(Object.keys(ERROR_CODES)));
    for (const [code, entry] of Object.entries(ERROR_CODES)) expect(documented.get(code), code).toBe(entry.status);
  });

  it('keeps the SPEC §4 statuses', () => {
    expect(ERROR_CODES.no_route.status).toBe(404);
    expect(ERROR_CODES.token_unavailable.status).toBe(503);
    expect(ERROR_CODES.token_rejected.status).toBe(502);
    expect(ERROR_CODES.upstream_unavailable.status).toBe(502);
    expect(ERROR_CODES.upstream_timeout.status).toBe(504);
  });

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('%s answers JSON with the header, the route and one actionable sentence', (code) => {
    const answer = errorAnswer(new SidecarError(code, { route: 'covver', detail: 'internal detail with a secret-looking value s3cr3t', retryAfterSeconds: 2.2 }));
    expect(answer.status).toBe(ERROR_CODES[code].status);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['x-token-sidecar-error']).toBe(code);
    expect(answer.headers['retry-after']).toBe('3');
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect(body).toEqual({ error: code, route: 'covver', message: ERROR_CODES[code].message });
    // The detail (which may echo an endpoint's words) stays in logs, never in the body.
    expect(answer.body).not.toContain('s3cr3t');
    expect(ERROR_CODES[code].message).toMatch(/\.$/);
  });
});
