// Per-tenant credential folders as Kubernetes mounts them: one folder per tenant, one file per
// credential field. Tenants' clients are registered with an emulator so each token names its tenant.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatorClient } from '../../src/emulators/index.js';

export interface TenantsFolder {
  /** The folder holding one folder per tenant (a route's tenants.directory). */
  readonly directory: string;
  /** The temp folder around it (room for a sibling a traversal would try to reach). */
  readonly root: string;
  /** Writes (or rewrites) a tenant's folder, one file per field. */
  write(id: string, fields: Record<string, string>): Promise<void>;
  remove(): Promise<void>;
}

export async function tenantsFolder(): Promise<TenantsFolder> {
  const root = await mkdtemp(join(tmpdir(), 'token-sidecar-tenants-'));
  const directory = join(root, 'tenants');
  await mkdir(directory);
  const write = async (id: string, fields: Record<string, string>) => {
    const folder = join(directory, id);
    await mkdir(folder, { recursive: true });
    // A trailing newline, as `kubectl create secret --from-file` often leaves one.
    await Promise.all(Object.entries(fields).map(([field, value]) => writeFile(join(folder, field), `${value}\n`)));
  };
  return { directory, root, write, remove: () => rm(root, { recursive: true, force: true }) };
}

/** Tenant ids tenant-0000 … and the emulator client each one's folder names. */
export function tenantClients(count: number, from = 0): Array<{ id: string; client: EmulatorClient }> {
  return Array.from({ length: count }, (_, index) => {
    const id = `tenant-${String(from + index).padStart(4, '0')}`;
    return { id, client: { clientId: `${id}-client`, clientSecret: `${id}-secret` } };
  });
}

/** A deterministic PRNG (mulberry32): the same spread of requests over tenants on every run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
