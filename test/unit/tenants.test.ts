// Tenant ids and tenant folders: which header values may name a folder, and what reading one
// returns. A header must never read outside the tenants folder.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SidecarError } from '../../src/errors.js';
import { upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { covver } from '../../src/providers/covver.js';
import { readTenantFolder, TenantSource, tenantProblems } from '../../src/token/tenant-folder.js';
import { isTenantId, requestTenant } from '../../src/token/tenant-id.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** root/tenants/<id>/... plus root/outside/ holding a complete credential a traversal would reach. */
async function layout() {
  const root = await mkdtemp(join(tmpdir(), 'token-sidecar-tenant-unit-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const directory = join(root, 'tenants');
  await mkdir(join(directory, 'acme'), { recursive: true });
  await writeFile(join(directory, 'acme', 'clientId'), 'acme-id\n');
  await writeFile(join(directory, 'acme', 'clientSecret'), 'acme-secret');
  await mkdir(join(root, 'outside'));
  await writeFile(join(root, 'outside', 'clientId'), 'outside-id');
  await writeFile(join(root, 'outside', 'clientSecret'), 'outside-secret');
  return { root, directory };
}

describe('tenant ids', () => {
  it.each(['acme', 'ACME-42', 'a', 'a.b_c-d', 'x'.repeat(64), '1tenant', 'acme..corp'])('%s is a tenant id', (id) => {
    expect(isTenantId(id)).toBe(true);
  });

  it.each([
    ['..'],
    ['.'],
    ['../x'],
    ['..data'],
    ['.hidden'],
    ['a/b'],
    ['a\\b'],
    ['/etc'],
    ['%2e%2e'],
    ['acme%2f..'],
    ['x'.repeat(65)],
    ['acme\u0000'],
    ['acme '],
    ['acme,other'],
    ['ácme'],
  ])('%j is not', (id) => {
    expect(isTenantId(id)).toBe(false);
  });

  it('a missing or empty header is tenant_required; a value that cannot be an id is unknown_tenant; both name the route', () => {
    const codeOf = (value: string | undefined) => {
      try {
        requestTenant('billing', value);
      } catch (error) {
        expect((error as SidecarError).route).toBe('billing');
        return (error as SidecarError).code;
      }
      return 'accepted';
    };
    expect(codeOf(undefined)).toBe('tenant_required');
    expect(codeOf('')).toBe('tenant_required');
    expect(codeOf('../outside')).toBe('unknown_tenant');
    expect(codeOf('acme')).toBe('accepted');
  });
});

describe('reading a tenant folder', () => {
  it('reads one file per field, one trailing newline off, dot entries (Kubernetes ..data) and sub-folders skipped', async () => {
    const { directory } = await layout();
    await mkdir(join(directory, 'acme', '..2030_01_01'));
    await symlink('..2030_01_01', join(directory, 'acme', '..data'));
    await mkdir(join(directory, 'acme', 'nested'));
    expect(readTenantFolder(directory, 'acme')).toEqual({ kind: 'found', values: { clientId: 'acme-id', clientSecret: 'acme-secret' } });
  });

  it('a tenant folder may be a symlink, as in a projected Secret volume', async () => {
    const { directory } = await layout();
    await symlink('acme', join(directory, 'acme-alias'));
    expect(readTenantFolder(directory, 'acme-alias').kind).toBe('found');
  });

  it.each(['../outside', '..', '.', '../tenants/acme', 'acme/../../outside', '/tmp', ''])('%j reads nothing, though a folder is there', async (id) => {
    const { directory } = await layout();
    expect(readTenantFolder(directory, id)).toEqual({ kind: 'missing' });
  });

  it('a tenant without a folder is missing; a file where its folder should be is missing too', async () => {
    const { directory } = await layout();
    await writeFile(join(directory, 'plain-file'), 'x');
    expect(readTenantFolder(directory, 'nobody')).toEqual({ kind: 'missing' });
    expect(readTenantFolder(directory, 'plain-file')).toEqual({ kind: 'missing' });
  });

  it("problems name the file to add or remove, never a value", async () => {
    const folder = '/t/acme';
    const problems = tenantProblems(covver, folder, { clientId: 'the-id-value', extra: 'the-extra-value' });
    expect(problems).toEqual([expect.stringContaining('/t/acme/clientSecret: is required'), expect.stringContaining('/t/acme/extra: is not a credential field of provider covver')]);
    expect(problems.join()).not.toMatch(/the-id-value|the-extra-value/);
    expect(tenantProblems(covver, folder, { clientId: 'a', clientSecret: 'b' })).toEqual([]);
  });
});

describe('a tenant credential source', () => {
  it('re-reads the folder at each read, keeps the last good values while it is gone, and tells a change', async () => {
    const { directory } = await layout();
    const source = new TenantSource(directory, 'acme', { clientId: 'acme-id', clientSecret: 'acme-secret' }, 0);
    expect(source.templates).toEqual({ clientId: `\${file:${join(directory, 'acme', 'clientId')}}`, clientSecret: `\${file:${join(directory, 'acme', 'clientSecret')}}` });
    expect(source.changed(5)).toBe(false);
    expect(source.checkedAt).toBe(5);
    await writeFile(join(directory, 'acme', 'clientSecret'), 'rotated');
    expect(source.changed(6)).toBe(true);
    expect(source.read().clientSecret).toBe('rotated');
    await rm(join(directory, 'acme'), { recursive: true });
    expect(source.read()).toEqual({ clientId: 'acme-id', clientSecret: 'rotated' });
  });
});

describe('the tenant header upstream', () => {
  it('is dropped (whatever its case), every other header kept in order', () => {
    const raw = ['Host', 'sidecar', 'X-Token-Sidecar-Tenant', 'acme', 'accept', 'json', 'x-token-sidecar-tenant', 'again'];
    expect(upstreamRequestHeaders(raw, undefined, 'Bearer t', 'x-token-sidecar-tenant')).toEqual(['accept', 'json', 'authorization', 'Bearer t']);
    expect(upstreamRequestHeaders(raw, undefined, 'Bearer t')).toContain('X-Token-Sidecar-Tenant');
  });
});
