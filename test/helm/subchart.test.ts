// The chart as a dependency: a parent chart includes the named templates in its own pod spec, the
// subchart renders the ConfigMap (and Secret), and the names line up. Both the documented forms:
// `include "token-sidecar.initContainers" .` (dependency named token-sidecar) and, with an alias,
// `include "token-sidecar.initContainers" .Subcharts.auth`.
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { K8sObject } from './kit.js';
import { container, copyChart, dataOf, only, podTemplate, render, renderError, tempDir, validateAll, volume } from './kit.js';

/** The parent's Deployment, as README.md shows it; SCOPE is `.` or `.Subcharts.<alias>`. */
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-payments
spec:
  selector:
    matchLabels:
      app: payments
  template:
    metadata:
      labels:
        app: payments
        {{- include "token-sidecar.podLabels" SCOPE | nindent 8 }}
      annotations:
        {{- include "token-sidecar.podAnnotations" SCOPE | nindent 8 }}
    spec:
      {{- with include "token-sidecar.initContainers" SCOPE }}
      initContainers:
        {{- . | nindent 8 }}
      {{- end }}
      containers:
        - name: payments
          image: registry.example.com/payments:2.4.0
          env:
            - name: COVVER_API_BASE_URL
              value: {{ include "token-sidecar.proxyUrl" SCOPE }}/covver
        {{- with include "token-sidecar.containers" SCOPE }}
        {{- . | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "token-sidecar.volumes" SCOPE | nindent 8 }}
`;

function parentChart(alias?: string): string {
  return `apiVersion: v2
name: payments
version: 1.0.0
kubeVersion: ">=1.29.0-0"
dependencies:
  - name: token-sidecar
    version: 0.1.0
    repository: file://../token-sidecar${alias ? `\n    alias: ${alias}` : ''}
`;
}

function parentValues(key: string): string {
  return `${key}:
  app:
    enabled: false
  config:
    routes:
      covver:
        provider: covver
        upstream: https://api.covver.io
        credentials:
          clientId: \${file:/var/run/secrets/token-sidecar/client-id}
          clientSecret: \${file:/var/run/secrets/token-sidecar/client-secret}
  credentials:
    client-id: payments
    client-secret: s3cret
`;
}

async function makeParent(dir: string, alias?: string): Promise<string> {
  const root = join(dir, alias ?? 'plain', 'payments');
  await mkdir(join(root, 'templates'), { recursive: true });
  await copyChart(join(root, 'charts', 'token-sidecar'));
  await writeFile(join(root, 'Chart.yaml'), parentChart(alias));
  await writeFile(join(root, 'values.yaml'), parentValues(alias ?? 'token-sidecar'));
  await writeFile(join(root, 'templates', 'deployment.yaml'), DEPLOYMENT.replaceAll('SCOPE', alias ? `.Subcharts.${alias}` : '.'));
  return root;
}

let work: { dir: string; cleanup: () => Promise<void> };
let plain: string;
let aliased: string;

beforeAll(async () => {
  work = await tempDir('subchart');
  plain = await makeParent(work.dir);
  aliased = await makeParent(work.dir, 'auth');
});

afterAll(async () => {
  await work?.cleanup();
});

function checkPod(objects: K8sObject[], release: string, subchartName: string): void {
  validateAll(objects);
  // The example app is off: the only Deployment is the parent's.
  const deployment = only(objects, 'Deployment');
  expect(deployment.metadata.name).toBe(`${release}-payments`);
  const pod = podTemplate(deployment);
  const fullname = `${release}-${subchartName}`;

  const sidecar = container(pod.spec.initContainers, 'token-sidecar');
  expect(sidecar.restartPolicy).toBe('Always');
  // The subchart's appVersion is the image tag, even though the parent renders the template.
  expect(sidecar.image).toBe('ghcr.io/token-sidecar/token-sidecar:0.1.0');
  expect(sidecar.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'token-admin' });

  // The volumes name the ConfigMap and Secret the subchart rendered.
  expect(only(objects, 'ConfigMap').metadata.name).toBe(fullname);
  expect(only(objects, 'Secret').metadata.name).toBe(fullname);
  expect(volume(pod.spec, 'token-sidecar-config').configMap?.name).toBe(fullname);
  expect(volume(pod.spec, 'token-sidecar-secrets').secret?.secretName).toBe(fullname);

  const config = parse(dataOf(only(objects, 'ConfigMap'))['config.yaml'] ?? '') as { routes: Record<string, unknown> };
  expect(Object.keys(config.routes)).toEqual(['covver']);

  expect(pod.metadata.labels).toEqual({ app: 'payments', 'token-sidecar/instance': fullname });
  expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464' });
  expect(container(pod.spec.containers, 'payments').env).toEqual([{ name: 'COVVER_API_BASE_URL', value: 'http://127.0.0.1:8080/covver' }]);
}

describe('as a dependency named token-sidecar, templates given the parent’s `.`', () => {
  it('puts a native sidecar in the parent’s pod, wired to the subchart’s ConfigMap and Secret', async () => {
    checkPod(await render({ chart: plain, release: 'shop' }), 'shop', 'token-sidecar');
  });

  it('puts the sidecar in containers with sidecar.native=false', async () => {
    const objects = await render({ chart: plain, release: 'shop', set: ['token-sidecar.sidecar.native=false'] });
    validateAll(objects);
    const pod = podTemplate(only(objects, 'Deployment'));
    expect(pod.spec).not.toHaveProperty('initContainers');
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['payments', 'token-sidecar']);
    expect(container(pod.spec.containers, 'token-sidecar')).not.toHaveProperty('restartPolicy');
  });

  it('applies the subchart’s schema to the parent’s values for it', async () => {
    expect(await renderError({ chart: plain, set: ['token-sidecar.image.tag=5'] })).toMatch(/image\.tag: Invalid type/);
  });
});

describe('as a dependency with an alias, templates given `.Subcharts.<alias>`', () => {
  it('puts a native sidecar in the parent’s pod, wired to the subchart’s ConfigMap and Secret', async () => {
    checkPod(await render({ chart: aliased, release: 'shop' }), 'shop', 'auth');
  });
});

describe('misuse', () => {
  it('an aliased dependency given the parent’s `.` fails with what to pass instead', async () => {
    const wrong = await makeParent(work.dir, 'gate');
    await writeFile(join(wrong, 'templates', 'deployment.yaml'), DEPLOYMENT.replaceAll('SCOPE', '.'));
    expect(await renderError({ chart: wrong })).toMatch(/pass `\.` when the dependency is named token-sidecar, or `\.Subcharts\.<alias>`/);
  });
});
