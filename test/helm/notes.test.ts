// templates/NOTES.txt. `helm template` does not print NOTES, so a copy of the chart gets a template
// that includes NOTES.txt by its template name and carries the text in a ConfigMap.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, copyChart, dataOf, only, render, tempDir } from './kit.js';

const PROBE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include (print $.Template.BasePath "/NOTES.txt") . | toJson }}
`;

let work: { dir: string; cleanup: () => Promise<void> };
let chart: string;

beforeAll(async () => {
  work = await tempDir('notes');
  chart = join(work.dir, 'token-sidecar');
  await copyChart(chart);
  await writeFile(join(chart, 'templates', 'zz-notes-probe.yaml'), PROBE);
});

afterAll(async () => {
  await work?.cleanup();
});

async function notes(options: { valuesFiles?: string[]; set?: string[] } = {}): Promise<string> {
  const cm = only(await render({ chart, ...options, showOnly: ['templates/zz-notes-probe.yaml'] }), 'ConfigMap');
  return dataOf(cm).notes ?? '';
}

describe('NOTES.txt', () => {
  it('warns about empty routes and a missing Secret with the default values', async () => {
    const text = await notes();
    expect(text).toMatch(/native sidecar/);
    expect(text).toMatch(/WARNING: config\.routes is empty/);
    expect(text).toMatch(/no credentials Secret is mounted/);
  });

  it('lists each route’s loopback URL and upstream', async () => {
    const text = await notes({ valuesFiles: [`${FIXTURES}full-values.yaml`] });
    expect(text).toContain('covver: http://127.0.0.1:8080/covver/...  ->  https://api.covver.io');
    expect(text).toContain('cobee: http://127.0.0.1:8080/cobee/...  ->  https://partners-api.cobee.io/api/v3');
    expect(text).not.toMatch(/WARNING/);
    expect(text).toContain('kubectl -n team-a rollout status deploy/payments');
  });

  it('points subchart users at the named templates when the example app is off', async () => {
    const text = await notes({ set: ['app.enabled=false', 'sidecar.native=false'] });
    expect(text).toMatch(/classic sidecar/);
    expect(text).toMatch(/token-sidecar\.initContainers/);
  });
});
