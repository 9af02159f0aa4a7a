// Every rendered object, in each mode, against the Kubernetes schemas of kubernetes-models 4.5.1.
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { CUSTOM_KINDS, FIXTURES, container, only, podTemplate, render, validateAll } from './kit.js';

const cases: { name: string; valuesFiles?: string[]; set?: string[] }[] = [
  { name: 'default values' },
  { name: 'full values', valuesFiles: [`${FIXTURES}full-values.yaml`] },
  { name: 'full values, classic sidecar', valuesFiles: [`${FIXTURES}full-values.yaml`], set: ['sidecar.native=false'] },
  { name: 'existing Secret, redis store', valuesFiles: [`${FIXTURES}existing-secret-values.yaml`] },
];

describe('rendered objects are valid Kubernetes objects', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const objects = await render({ valuesFiles: c.valuesFiles, set: c.set });
      expect(objects.length).toBeGreaterThan(0);
      expect(() => validateAll(objects)).not.toThrow();
      // Custom resources (no schema in kubernetes-models) are only the Prometheus Operator's.
      for (const o of objects.filter((x) => CUSTOM_KINDS.has(`${x.apiVersion}/${x.kind}`))) {
        expect(o.apiVersion).toBe('monitoring.coreos.com/v1');
      }
    });
  }

  it('the schema knows restartPolicy on init containers, so native sidecars are validated as rendered', async () => {
    const deployment = only(await render(), 'Deployment');
    expect(container(podTemplate(deployment).spec.initContainers, 'token-sidecar').restartPolicy).toBe('Always');
    // Proof the validator looks at that field: a wrong type there is rejected.
    const broken = structuredClone(deployment);
    const sidecar = container(podTemplate(broken).spec.initContainers, 'token-sidecar') as unknown as Record<string, unknown>;
    sidecar.restartPolicy = 42;
    expect(() => new Deployment(broken as never).validate()).toThrow(/restartPolicy/);
  });
});
