// templates/podmonitor.yaml: Prometheus Operator scraping of the admin listener.
import { describe, expect, it } from 'vitest';
import { FIXTURES, container, only, podTemplate, render } from './kit.js';

interface PodMonitorSpec {
  jobLabel?: string;
  namespaceSelector: { matchNames: string[] };
  selector: { matchLabels: Record<string, string> };
  podMetricsEndpoints: { port: string; path: string; scheme: string; interval?: string; scrapeTimeout?: string; relabelings?: unknown[]; metricRelabelings?: unknown[] }[];
}

describe('PodMonitor', () => {
  it('is off by default', async () => {
    expect((await render()).filter((o) => o.kind === 'PodMonitor')).toEqual([]);
  });

  it('scrapes /metrics on the sidecar’s admin port of the pods it selects', async () => {
    const objects = await render({ set: ['metrics.podMonitor.enabled=true'] });
    const pm = only(objects, 'PodMonitor');
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    const spec = pm.spec as PodMonitorSpec;
    expect(spec.podMetricsEndpoints).toEqual([{ port: 'token-admin', path: '/metrics', scheme: 'http', interval: '30s' }]);
    expect(spec.namespaceSelector.matchNames).toEqual(['team-a']);

    // The selector matches the app's pods, and the port name is the sidecar's admin port.
    const pod = podTemplate(only(objects, 'Deployment'));
    expect(pod.metadata.labels).toMatchObject(spec.selector.matchLabels);
    const sidecar = container(pod.spec.initContainers, 'token-sidecar');
    expect(sidecar.ports?.find((p) => p.name === spec.podMetricsEndpoints[0]?.port)?.containerPort).toBe(9464);
  });

  it('takes namespace, labels, intervals and relabelings from the full values', async () => {
    const objects = await render({ valuesFiles: [`${FIXTURES}full-values.yaml`] });
    const pm = only(objects, 'PodMonitor');
    expect(pm.metadata.namespace).toBe('monitoring');
    expect(pm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    const spec = pm.spec as PodMonitorSpec;
    expect(spec.jobLabel).toBe('app.kubernetes.io/name');
    // Still the release namespace's pods, from the monitoring namespace.
    expect(spec.namespaceSelector.matchNames).toEqual(['team-a']);
    expect(spec.podMetricsEndpoints[0]).toMatchObject({ port: 'auth-admin', interval: '15s', scrapeTimeout: '10s' });
    expect(spec.podMetricsEndpoints[0]?.relabelings).toHaveLength(1);
    expect(spec.podMetricsEndpoints[0]?.metricRelabelings).toHaveLength(1);
  });

  it('uses metrics.podMonitor.selector when set', async () => {
    const pm = only(await render({ set: ['metrics.podMonitor.enabled=true', 'metrics.podMonitor.selector.app=payments'] }), 'PodMonitor');
    expect((pm.spec as PodMonitorSpec).selector.matchLabels).toEqual({ app: 'payments' });
  });
});
