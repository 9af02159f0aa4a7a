// templates/deployment.yaml (the example app) and the sidecar container it includes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Container, K8sObject, PodTemplate } from './kit.js';
import { CHART, FIXTURES, container, only, podTemplate, render, volume } from './kit.js';

const appVersion = (parse(readFileSync(`${CHART}/Chart.yaml`, 'utf8')) as { appVersion: string }).appVersion;
const full = `${FIXTURES}full-values.yaml`;

async function deployment(options: { valuesFiles?: string[]; set?: string[] } = {}): Promise<{ objects: K8sObject[]; pod: PodTemplate; sidecar: Container }> {
  const objects = await render({ ...options });
  const pod = podTemplate(only(objects, 'Deployment'));
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const sidecar = all.find((c) => c.image.includes('token-sidecar'));
  if (sidecar === undefined) throw new Error('no sidecar container rendered');
  return { objects, pod, sidecar };
}

/** The containerPort a probe's named port resolves to. */
function probePort(c: Container, probe: 'startupProbe' | 'livenessProbe' | 'readinessProbe'): number | undefined {
  const port = c[probe]?.httpGet?.port;
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describe('native sidecar (default)', () => {
  it('is the first init container, with restartPolicy: Always, and not a regular container', async () => {
    const { pod, sidecar } = await deployment();
    expect(pod.spec.initContainers?.[0]?.name).toBe('token-sidecar');
    expect(sidecar.restartPolicy).toBe('Always');
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
  });

  it('runs the chart appVersion image with the ConfigMap-mounted config', async () => {
    const { sidecar } = await deployment();
    expect(sidecar.image).toBe(`ghcr.io/token-sidecar/token-sidecar:${appVersion}`);
    expect(sidecar.args).toEqual(['--config', '/etc/token-sidecar/config.yaml', '--log-level', 'info']);
  });

  it('probes the admin port: startup on /readyz (the app starts after the first token attempts), liveness on /healthz, readiness on /readyz', async () => {
    const { sidecar } = await deployment();
    expect(sidecar.ports).toEqual([{ name: 'token-admin', containerPort: 9464, protocol: 'TCP' }]);
    expect(sidecar.startupProbe?.httpGet?.path).toBe('/readyz');
    expect(sidecar.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(sidecar.readinessProbe?.httpGet?.path).toBe('/readyz');
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      expect(probePort(sidecar, probe)).toBe(9464);
      expect(sidecar[probe]).not.toHaveProperty('enabled');
    }
    // A native sidecar's startup probe gates the app: it must allow some seconds to start.
    const startup = sidecar.startupProbe as { periodSeconds: number; failureThreshold: number };
    // Long enough for the first token attempt on the defaults: 2 attempts x 10 s + the Redis lock wait (25 s).
    expect(startup.periodSeconds * startup.failureThreshold).toBeGreaterThanOrEqual(45);
  });

  it('follows config.admin for the port, probes and scrape annotation', async () => {
    const { pod, sidecar } = await deployment({ set: ['config.admin=0.0.0.0:9100'] });
    expect(sidecar.ports?.[0]?.containerPort).toBe(9100);
    expect(probePort(sidecar, 'readinessProbe')).toBe(9100);
    expect(pod.metadata.annotations?.['prometheus.io/port']).toBe('9100');
  });

  it('is locked down: non-root numeric user, read-only root, no capabilities, RuntimeDefault seccomp', async () => {
    const { sidecar } = await deployment();
    expect(sidecar.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('has requests and limits', async () => {
    const { sidecar } = await deployment();
    expect(sidecar.resources).toEqual({
      requests: { cpu: '50m', memory: '96Mi' },
      limits: { cpu: '500m', memory: '320Mi' },
    });
  });

  it('mounts the config read-only and a writable /tmp emptyDir; no Secret without credentials', async () => {
    const { objects, pod, sidecar } = await deployment();
    expect(sidecar.volumeMounts).toEqual([
      { name: 'token-sidecar-config', mountPath: '/etc/token-sidecar', readOnly: true },
      { name: 'token-sidecar-tmp', mountPath: '/tmp' },
    ]);
    expect(volume(pod.spec, 'token-sidecar-config').configMap?.name).toBe(only(objects, 'ConfigMap').metadata.name);
    expect(volume(pod.spec, 'token-sidecar-tmp').emptyDir).toEqual({ sizeLimit: '64Mi' });
    expect(pod.spec.volumes?.map((v) => v.name)).not.toContain('token-sidecar-secrets');
  });

  it('annotates the pod for Prometheus scraping and with a config checksum', async () => {
    const { pod } = await deployment();
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9464',
      'prometheus.io/path': '/metrics',
    });
    expect(pod.metadata.annotations?.['checksum/token-sidecar-config']).toMatch(/^[0-9a-f]{64}$/);
    const changed = await deployment({ set: ['config.cache.maxEntries=10'] });
    expect(changed.pod.metadata.annotations?.['checksum/token-sidecar-config']).not.toBe(pod.metadata.annotations?.['checksum/token-sidecar-config']);
  });

  it('leaves out the scrape annotations when metrics.annotations.enabled is false', async () => {
    const { pod } = await deployment({ set: ['metrics.annotations.enabled=false'] });
    expect(Object.keys(pod.metadata.annotations ?? {}).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
  });

  it('does not mount an API token into the pod', async () => {
    const { pod } = await deployment();
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });

  it('omits a probe that is disabled', async () => {
    const { sidecar } = await deployment({ set: ['sidecar.readinessProbe.enabled=false'] });
    expect(sidecar).not.toHaveProperty('readinessProbe');
    expect(sidecar.livenessProbe).toBeDefined();
  });
});

describe('classic sidecar (sidecar.native=false)', () => {
  it('is a regular container next to the app, with no restartPolicy and no initContainers', async () => {
    const { pod, sidecar } = await deployment({ set: ['sidecar.native=false'] });
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app', 'token-sidecar']);
    expect(sidecar).not.toHaveProperty('restartPolicy');
    expect(pod.spec).not.toHaveProperty('initContainers');
    // Same probes and lock-down as the native form.
    expect(probePort(sidecar, 'livenessProbe')).toBe(9464);
    expect(sidecar.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('waits on SIGTERM (preStop sleep) so the app’s last outbound calls get through', async () => {
    const { sidecar } = await deployment({ set: ['sidecar.native=false'] });
    expect(sidecar.lifecycle?.preStop?.exec?.command).toEqual(['sleep', '5']);
    const none = await deployment({ set: ['sidecar.native=false', 'sidecar.classicPreStopSleepSeconds=0'] });
    expect(none.sidecar).not.toHaveProperty('lifecycle');
    const native = await deployment();
    expect(native.sidecar).not.toHaveProperty('lifecycle');
  });

  it('keeps the app’s own init containers', async () => {
    const { pod } = await deployment({ valuesFiles: [full], set: ['sidecar.native=false'] });
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['migrate']);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['payments', 'auth-proxy']);
  });
});

describe('full values', () => {
  it('puts the sidecar before the app’s init containers, so they can use it', async () => {
    const { pod } = await deployment({ valuesFiles: [full] });
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['auth-proxy', 'migrate']);
  });

  it('pulls the image by digest', async () => {
    const { sidecar } = await deployment({ valuesFiles: [full] });
    expect(sidecar.image).toBe(
      'registry.example.com/platform/token-sidecar:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });

  it('mounts the credentials Secret read-only where config’s ${file:...} references point', async () => {
    const { objects, pod, sidecar } = await deployment({ valuesFiles: [full] });
    expect(sidecar.volumeMounts).toContainEqual({ name: 'token-sidecar-secrets', mountPath: '/var/run/secrets/token-sidecar', readOnly: true });
    const secretVolume = volume(pod.spec, 'token-sidecar-secrets');
    expect(secretVolume.secret?.secretName).toBe(only(objects, 'Secret').metadata.name);
    expect(secretVolume.secret?.defaultMode).toBe(0o444);
    // The app container sees neither the Secret nor the config.
    const app = container(pod.spec.containers, 'payments');
    expect(app.volumeMounts?.map((m) => m.name)).toEqual(['cache']);
  });

  it('mounts a writable volume at the file store’s directory', async () => {
    const { pod, sidecar } = await deployment({ valuesFiles: [full] });
    expect(sidecar.volumeMounts).toContainEqual({ name: 'token-sidecar-state', mountPath: '/var/lib/token-sidecar' });
    expect(volume(pod.spec, 'token-sidecar-state').emptyDir).toEqual({});
  });

  it('uses sidecar.stateVolume for the file store when set', async () => {
    const { pod } = await deployment({ valuesFiles: [full], set: ['sidecar.stateVolume.persistentVolumeClaim.claimName=token-state'] });
    expect(volume(pod.spec, 'token-sidecar-state')).toEqual({ name: 'token-sidecar-state', persistentVolumeClaim: { claimName: 'token-state' } });
  });

  it('adds no second mount when the file store lives under /tmp', async () => {
    const { pod, sidecar } = await deployment({ valuesFiles: [full], set: ['config.store.path=/tmp/state/tokens.json'] });
    expect(sidecar.volumeMounts?.map((m) => m.mountPath).filter((p) => p.startsWith('/tmp'))).toEqual(['/tmp']);
    expect(pod.spec.volumes?.map((v) => v.name)).not.toContain('token-sidecar-state');
  });

  it('renders app env through tpl (token-sidecar.proxyUrl) and passes the rest through', async () => {
    const { pod } = await deployment({ valuesFiles: [full] });
    const app = container(pod.spec.containers, 'payments');
    expect(app.env).toEqual([
      { name: 'COVVER_API_BASE_URL', value: 'http://127.0.0.1:8080/covver' },
      { name: 'API_BASE_URL', value: 'http://127.0.0.1:8080/cobee' },
    ]);
    expect(pod.metadata.labels).toMatchObject({ team: 'payments', 'token-sidecar/instance': 'payments' });
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'registry-example-com' }]);
  });

  it('keeps user-added sidecar env, extra mounts and volumes', async () => {
    const { pod, sidecar } = await deployment({ valuesFiles: [full] });
    expect(sidecar.env?.map((e) => e.name)).toEqual(['COVVER_CLIENT_ID']);
    expect(sidecar.volumeMounts).toContainEqual({ name: 'corporate-ca', mountPath: '/etc/ssl/corporate', readOnly: true });
    expect(volume(pod.spec, 'corporate-ca').configMap?.name).toBe('corporate-ca');
  });
});

describe('app.enabled=false', () => {
  it('renders no Deployment, but still the ConfigMap', async () => {
    const objects = await render({ set: ['app.enabled=false'] });
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap']);
  });
});
