// templates/configmap.yaml: config.yaml is exactly the `config:` value (SPEC §2 shape).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART, FIXTURES, dataOf, only, render } from './kit.js';

function configOf(objects: Awaited<ReturnType<typeof render>>): unknown {
  const data = dataOf(only(objects, 'ConfigMap'));
  expect(Object.keys(data)).toEqual(['config.yaml']);
  return parse(data['config.yaml'] ?? '');
}

describe('ConfigMap', () => {
  it('holds the default config: loopback proxy, admin on all interfaces, memory store', async () => {
    const defaults = parse(readFileSync(`${CHART}/values.yaml`, 'utf8')) as { config: unknown };
    const config = configOf(await render({ showOnly: ['templates/configmap.yaml'] }));
    expect(config).toEqual(defaults.config);
    expect(config).toMatchObject({ listen: '127.0.0.1:8080', admin: '0.0.0.0:9464', store: { type: 'memory' }, routes: {} });
  });

  it('holds the full values’ config verbatim, ${file:...} and ${env:...} references untouched', async () => {
    const fixture = parse(readFileSync(`${FIXTURES}full-values.yaml`, 'utf8')) as { config: Record<string, unknown> };
    const config = configOf(await render({ valuesFiles: [`${FIXTURES}full-values.yaml`], showOnly: ['templates/configmap.yaml'] }));
    expect(config).toEqual(fixture.config);
    expect(config).toMatchObject({
      routes: {
        covver: { credentials: { clientId: '${env:COVVER_CLIENT_ID}', clientSecret: '${file:/var/run/secrets/token-sidecar/covver-client-secret}' } },
      },
    });
  });

  it('passes config keys the chart schema does not list through to the sidecar (it validates them)', async () => {
    const config = configOf(await render({ set: ['config.timeouts.connect=3s', 'config.accessLog=true'], showOnly: ['templates/configmap.yaml'] }));
    expect(config).toMatchObject({ timeouts: { connect: '3s' }, accessLog: true });
  });

  it('is named and labelled like the rest of the release', async () => {
    const cm = only(await render({ showOnly: ['templates/configmap.yaml'] }), 'ConfigMap');
    expect(cm.metadata.name).toBe('rel-token-sidecar');
    expect(cm.metadata.namespace).toBe('team-a');
    expect(cm.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'token-sidecar',
      'app.kubernetes.io/instance': 'rel',
      'app.kubernetes.io/managed-by': 'Helm',
    });
  });
});
