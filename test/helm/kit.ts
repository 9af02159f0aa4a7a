// Shared kit for the chart tests: the real helm binary (node_modules/.bin/helm, offline), rendering
// to parsed objects, and validation against the Kubernetes schemas of kubernetes-models.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HELM = join(ROOT, 'node_modules/.bin/helm');
export const CHART = join(ROOT, 'helm/token-sidecar');
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** The chart needs >= 1.29 (native sidecars); helm template defaults to an older version offline. */
export const KUBE_VERSION = '1.29.0';

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Keep helm away from the user's ~/.config/helm (repositories, plugins). lint and template write
// nothing there, so the directory is never created.
const helmHome = join(tmpdir(), 'token-sidecar-helm-home');
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

/** Runs helm with an argument array; never throws on a non-zero exit. */
export function helm(args: readonly string[]): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(HELM, args, { env: helmEnv, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

export interface RenderOptions {
  chart?: string;
  release?: string;
  valuesFiles?: string[];
  /** --set key=value pairs. */
  set?: string[];
  showOnly?: string[];
  kubeVersion?: string;
}

export function templateArgs(options: RenderOptions = {}): string[] {
  const args = ['template', options.release ?? 'rel', options.chart ?? CHART, '--namespace', 'team-a'];
  args.push('--kube-version', options.kubeVersion ?? KUBE_VERSION);
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const pair of options.set ?? []) args.push('--set', pair);
  for (const path of options.showOnly ?? []) args.push('--show-only', path);
  return args;
}

const renders = new Map<string, Promise<K8sObject[]>>();

/**
 * helm template, expected to succeed; returns every rendered object (a fresh copy each call: the
 * same arguments render once per test file, since a chart copy never changes under the same path
 * within a file).
 */
export async function render(options: RenderOptions = {}): Promise<K8sObject[]> {
  const args = templateArgs(options);
  const key = JSON.stringify(args);
  let pending = renders.get(key);
  if (pending === undefined) {
    pending = helm(args).then((result) => {
      if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
      return parseObjects(result.stdout);
    });
    renders.set(key, pending);
    pending.catch(() => renders.delete(key));
  }
  return structuredClone(await pending);
}

/** helm template, expected to fail; returns stderr. */
export async function renderError(options: RenderOptions = {}): Promise<string> {
  const result = await helm(templateArgs(options));
  if (result.code === 0) throw new Error(`helm template succeeded, expected a failure:\n${result.stdout}`);
  return result.stderr;
}

export function parseObjects(stream: string): K8sObject[] {
  const docs = parseAllDocuments(stream);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found[0] as K8sObject;
}

// --- Pod spec access, typed just enough for the assertions -------------------------------------

export interface Probe {
  httpGet?: { path: string; port: string | number };
  [key: string]: unknown;
}
export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  restartPolicy?: string;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; defaultMode?: number };
  emptyDir?: { sizeLimit?: string; medium?: string };
  persistentVolumeClaim?: { claimName: string };
}
export interface PodSpec {
  initContainers?: Container[] | null;
  containers: Container[];
  volumes?: Volume[];
  securityContext?: Record<string, unknown>;
  automountServiceAccountToken?: boolean;
  imagePullSecrets?: { name: string }[];
}
export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export function podTemplate(deployment: K8sObject): PodTemplate {
  return (deployment.spec as { template: PodTemplate }).template;
}

export function container(list: Container[] | null | undefined, name: string): Container {
  const found = (list ?? []).find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name} in [${(list ?? []).map((c) => c.name).join(', ')}]`);
  return found;
}

export function volume(spec: PodSpec, name: string): Volume {
  const found = (spec.volumes ?? []).find((v) => v.name === name);
  if (found === undefined) throw new Error(`no volume ${name} in [${(spec.volumes ?? []).map((v) => v.name).join(', ')}]`);
  return found;
}

// --- Kubernetes schema validation ---------------------------------------------------------------

// kubernetes-models 4.5.1 carries the Kubernetes >= 1.29 schema: Container.restartPolicy is known
// (checked in kubernetes-schemas.test.ts), so native sidecars validate as rendered, unmodified.
const MODELS: Record<string, (obj: K8sObject) => { validate(): void }> = {
  'apps/v1/Deployment': (obj) => new Deployment(obj as never),
  'v1/ConfigMap': (obj) => new ConfigMap(obj as never),
  'v1/Secret': (obj) => new Secret(obj as never),
};
/** Custom resources kubernetes-models has no schema for; their tests assert their shape by hand. */
export const CUSTOM_KINDS = new Set(['monitoring.coreos.com/v1/PodMonitor', 'monitoring.coreos.com/v1/PrometheusRule']);

/** Validates every object; an object of a kind this kit does not know fails, so none slips through. */
export function validateAll(objects: K8sObject[]): void {
  for (const obj of objects) {
    const key = `${obj.apiVersion}/${obj.kind}`;
    if (CUSTOM_KINDS.has(key)) continue;
    const model = MODELS[key];
    if (model === undefined) throw new Error(`no Kubernetes schema wired for ${key}; add it to MODELS in test/helm/kit.ts`);
    try {
      model(obj).validate();
    } catch (error) {
      throw new Error(`${key} ${obj.metadata.name} is invalid: ${(error as Error).message}`, { cause: error });
    }
  }
}

// --- Temporary chart copies -----------------------------------------------------------------------

/** A temp dir removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `token-sidecar-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Copies the chart to dest (so a test can add files/ or wrap it in a parent without touching the tree). */
export async function copyChart(dest: string): Promise<void> {
  await cp(CHART, dest, { recursive: true });
}

/** The `data` of a ConfigMap or Secret, checked to be string-valued. */
export function dataOf(obj: K8sObject): Record<string, string> {
  const data = obj.data;
  if (data === null || typeof data !== 'object' || Object.values(data).some((v) => typeof v !== 'string')) {
    throw new Error(`${obj.kind} ${obj.metadata.name} has no string-valued data`);
  }
  return data as Record<string, string>;
}
