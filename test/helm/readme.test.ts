// The examples in helm/token-sidecar/README.md render as documented: each yaml block that follows a
// `<!-- readme-test: NAME -->` marker is used verbatim here.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART, container, copyChart, dataOf, only, podTemplate, render, tempDir, validateAll, volume } from './kit.js';

const readme = readFileSync(join(CHART, 'README.md'), 'utf8');

function block(name: string): string {
  const match = new RegExp(`<!-- readme-test: ${name} -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (match?.[1] === undefined) throw new Error(`README.md has no yaml block marked readme-test: ${name}`);
  return match[1];
}

let work: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  work = await tempDir('readme');
});

afterAll(async () => {
  await work?.cleanup();
});

describe('README: standalone', () => {
  it('deploys the app with a native sidecar, a Secret with its credentials and a PodMonitor', async () => {
    const values = join(work.dir, 'values-payments.yaml');
    await writeFile(values, block('standalone-values'));
    const objects = await render({ release: 'payments', valuesFiles: [values] });
    validateAll(objects);

    const pod = podTemplate(only(objects, 'Deployment', 'payments-token-sidecar'));
    expect(container(pod.spec.initContainers, 'token-sidecar').restartPolicy).toBe('Always');
    const app = container(pod.spec.containers, 'app');
    expect(app.image).toBe('registry.example.com/payments/api:2.4.0');
    expect(app).not.toHaveProperty('command');
    expect(app.env).toEqual([
      { name: 'COVVER_API_BASE_URL', value: 'http://127.0.0.1:8080/covver' },
      { name: 'COBEE_API_BASE_URL', value: 'http://127.0.0.1:8080/cobee' },
    ]);
    expect(Object.keys(dataOf(only(objects, 'Secret'))).sort()).toEqual(['cobee-client-id', 'cobee-client-secret', 'covver-client-id', 'covver-client-secret']);
    expect(only(objects, 'PodMonitor').metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
  });
});

describe('README: as a dependency', () => {
  async function parent(scope: string): Promise<string> {
    const root = join(work.dir, `parent-${scope.replace(/\W+/g, '_')}`, 'payments');
    await mkdir(join(root, 'templates'), { recursive: true });
    await copyChart(join(root, 'charts', 'token-sidecar'));
    await writeFile(join(root, 'Chart.yaml'), block('parent-chart'));
    await writeFile(join(root, 'values.yaml'), block('parent-values'));
    const deployment = scope === '.' ? block('parent-deployment') : block('parent-deployment').replaceAll('" . ', `" ${scope} `);
    expect(deployment.split(`" ${scope} `).length - 1).toBe(6); // every include of a public template
    await writeFile(join(root, 'templates', 'deployment.yaml'), deployment);
    return root;
  }

  for (const scope of ['.', '(index .Subcharts "token-sidecar")']) {
    it(`puts the sidecar in the parent's pod, mounting existingSecret (scope ${scope})`, async () => {
      const chart = await parent(scope);
      const objects = await render({ chart, release: 'shop' });
      validateAll(objects);
      // Only the parent's Deployment and the subchart's ConfigMap: no example app, no Secret.
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ConfigMap/shop-token-sidecar', 'Deployment/shop-payments']);
      const pod = podTemplate(only(objects, 'Deployment'));
      expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['token-sidecar']);
      expect(volume(pod.spec, 'token-sidecar-secrets').secret?.secretName).toBe('payments-covver');
      expect(volume(pod.spec, 'token-sidecar-config').configMap?.name).toBe('shop-token-sidecar');
      expect(container(pod.spec.containers, 'payments').env).toEqual([{ name: 'COVVER_API_BASE_URL', value: 'http://127.0.0.1:8080/covver' }]);
      expect(pod.metadata.labels).toEqual({ app: 'payments', 'token-sidecar/instance': 'shop-token-sidecar' });
    });
  }
});
