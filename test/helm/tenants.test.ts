// Per-tenant credentials with the chart: the README's projected volume (one Secret per tenant) goes
// through sidecar.extraVolumes/extraVolumeMounts, the route's tenants block through config, and the
// built sidecar accepts the rendered config once the folders exist.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../support/sidecar.js';
import { FIXTURES, dataOf, only, podTemplate, render, validateAll, volume } from './kit.js';

const DIRECTORY = '/var/run/secrets/covver-tenants';

describe('a tenants route with the chart', () => {
  it('mounts the projected tenant Secrets read-only at tenants.directory, and the sidecar accepts the rendered config', async () => {
    const objects = await render({ valuesFiles: [`${FIXTURES}tenants-values.yaml`] });
    validateAll(objects);
    const pod = podTemplate(only(objects, 'Deployment'));
    const sidecar = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.image.includes('token-sidecar'));
    expect(sidecar?.volumeMounts).toContainEqual({ name: 'covver-tenants', mountPath: DIRECTORY, readOnly: true });
    const projected = (volume(pod.spec, 'covver-tenants') as { projected?: { sources: Array<{ secret: { name: string } }> } }).projected;
    expect(projected?.sources.map((source) => source.secret.name)).toEqual(['covver-tenant-acme', 'covver-tenant-globex']);
    expect(objects.filter((object) => object.kind === 'Secret')).toEqual([]);

    const text = dataOf(only(objects, 'ConfigMap'))['config.yaml'] ?? '';
    expect(parse(text)).toMatchObject({ routes: { billing: { tenants: { directory: DIRECTORY } } } });
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-helm-tenants-'));
    try {
      await mkdir(join(dir, 'tenants', 'acme'), { recursive: true });
      await writeFile(join(dir, 'tenants', 'acme', 'clientId'), 'id');
      await writeFile(join(dir, 'config.yaml'), text.replaceAll(DIRECTORY, join(dir, 'tenants')));
      const { code, stdout, stderr } = await runCli(['check', '--config', join(dir, 'config.yaml')]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toContain('tenants:');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
