// The config the chart renders is the sidecar's config: render the ConfigMap and Secret for routes
// pointing at the emulators, lay the Secret out on disk the way the kubelet mounts it, and run the
// built sidecar (dist/cli.js) on that exact file. Needs `npm run build` first (npm test does it).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEMO_CLIENTS, startEmulators } from '../../src/emulators/index.js';
import { secretVolume } from '../support/secret-volume.js';
import { runCli, startSidecarWithFile, waitFor } from '../support/sidecar.js';
import { ROOT, dataOf, only, render, tempDir } from './kit.js';

type EmulatorSet = Awaited<ReturnType<typeof startEmulators>>;

const CLI = join(ROOT, 'dist/cli.js');
const MOUNT = '/var/run/secrets/token-sidecar';
/**
 * A second client the Cobee emulator accepts, to prove a rotated Secret is picked up. Cobee has no
 * refresh token, so every new token is a fresh client-credentials request that rereads the files.
 */
const ROTATED = { clientId: 'rotated-cobee', clientSecret: 'rotated-cobee-secret' };

let emulators: EmulatorSet;
let work: { dir: string; cleanup: () => Promise<void> };
let secrets: Awaited<ReturnType<typeof secretVolume>>;
let configFile: string;
let renderedConfig: string;

function decode(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  emulators = await startEmulators({ perProvider: { cobee: { clients: [DEMO_CLIENTS.cobee, ROTATED] } } });
  work = await tempDir('chart-config');

  const values = {
    config: {
      routes: {
        covver: {
          provider: 'covver',
          upstream: emulators.covver.apiUrl,
          tokenUrl: emulators.covver.tokenUrl,
          credentials: {
            clientId: `\${file:${MOUNT}/covver-client-id}`,
            clientSecret: `\${file:${MOUNT}/covver-client-secret}`,
          },
        },
        cobee: {
          provider: 'cobee',
          upstream: emulators.cobee.apiUrl,
          tokenUrl: emulators.cobee.tokenUrl,
          credentials: {
            clientId: `\${file:${MOUNT}/cobee-client-id}`,
            clientSecret: `\${file:${MOUNT}/cobee-client-secret}`,
          },
        },
      },
    },
    credentials: {
      'covver-client-id': DEMO_CLIENTS.covver.clientId,
      'covver-client-secret': DEMO_CLIENTS.covver.clientSecret,
      'cobee-client-id': DEMO_CLIENTS.cobee.clientId,
      // Kubernetes Secrets often end in a newline (echo > file; kubectl create secret --from-file).
      'cobee-client-secret': `${DEMO_CLIENTS.cobee.clientSecret}\n`,
    },
  };
  const valuesFile = join(work.dir, 'values.json');
  await writeFile(valuesFile, JSON.stringify(values));
  const objects = await render({ valuesFiles: [valuesFile], showOnly: ['templates/configmap.yaml', 'templates/secret.yaml'] });
  renderedConfig = dataOf(only(objects, 'ConfigMap'))['config.yaml'] ?? '';
  const secret = decode(dataOf(only(objects, 'Secret')));

  secrets = await secretVolume(secret);

  // The ConfigMap's config.yaml, changed only where a test must: the Secret's mount point (a temp
  // dir here) and the listeners (port 0, loopback: no fixed ports, and no probes to serve).
  expect(renderedConfig).toContain(`\${file:${MOUNT}/covver-client-secret}`);
  const doc = parseDocument(renderedConfig.split(`\${file:${MOUNT}/`).join(`\${file:${secrets.root}/`));
  expect(doc.get('listen')).toBe('127.0.0.1:8080');
  expect(doc.get('admin')).toBe('0.0.0.0:9464');
  doc.set('listen', '127.0.0.1:0');
  doc.set('admin', '127.0.0.1:0');
  configFile = join(work.dir, 'config.yaml');
  await writeFile(configFile, String(doc));
});

afterAll(async () => {
  await emulators?.close();
  await secrets?.remove();
  await work?.cleanup();
});

describe('the chart’s ConfigMap and Secret drive the real sidecar', () => {
  it('passes `token-sidecar check` and never prints the secrets', async () => {
    const result = await runCli(['check', '--config', configFile]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/covver/);
    expect(result.stdout).toMatch(/cobee/);
    for (const secret of [DEMO_CLIENTS.covver.clientSecret, DEMO_CLIENTS.cobee.clientSecret]) expect(result.stdout).not.toContain(secret);
  });

  it('serves requests through both routes, the probe paths and /metrics; rereads a rotated Secret', async () => {
    const sidecar = await startSidecarWithFile(configFile);
    try {
      // The paths the chart's probes and scrape annotations point at.
      // /readyz (the startup probe) turns 200 once every route's first token attempt is done: poll it.
      expect((await fetch(`${sidecar.adminUrl}/healthz`)).status).toBe(200);
      await waitFor(async () => ((await fetch(`${sidecar.adminUrl}/readyz`)).status === 200 ? true : undefined), { what: '/readyz 200' });

      const covver = await fetch(`${sidecar.url}/covver/echo`, { method: 'POST', body: 'hello' });
      expect(covver.status).toBe(200);
      expect(covver.headers.get('x-emulator-client-id')).toBe(DEMO_CLIENTS.covver.clientId);
      expect(await covver.text()).toBe('hello');
      expect(emulators.covver.stats.tokenRequests).toBeGreaterThanOrEqual(1);

      // The trailing newline of the mounted file is not part of the secret.
      const cobee = await fetch(`${sidecar.url}/cobee/echo`);
      expect(cobee.status).toBe(200);
      expect(cobee.headers.get('x-emulator-client-id')).toBe(DEMO_CLIENTS.cobee.clientId);
      await cobee.arrayBuffer();

      const metrics = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^token_sidecar_requests_total\{[^}]*route="covver"/m);

      // The kubelet updates a mounted Secret in place (a new ..data); the next token fetch uses it.
      await secrets.update({
        'covver-client-id': DEMO_CLIENTS.covver.clientId,
        'covver-client-secret': DEMO_CLIENTS.covver.clientSecret,
        'cobee-client-id': ROTATED.clientId,
        'cobee-client-secret': ROTATED.clientSecret,
      });
      // The old token stops working upstream: the sidecar fetches a new one once and retries.
      emulators.cobee.expireAllAccessTokens();
      const rotated = await fetch(`${sidecar.url}/cobee/echo`);
      expect(rotated.status).toBe(200);
      expect(rotated.headers.get('x-emulator-client-id')).toBe(ROTATED.clientId);
      await rotated.arrayBuffer();
    } finally {
      const code = await sidecar.stop();
      expect(code, sidecar.output()).toBe(0);
    }
  });
});
