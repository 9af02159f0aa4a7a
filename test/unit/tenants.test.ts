// Tenant ids and tenant folders: which header values may name a folder, and what reading one
// returns. A header must never read outside the tenants folder.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SidecarError } from '../../src/errors.js';
import { upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { builtInProvider } from '../../src/providers/registry.js';
import { readTenantFolder, TenantSource, tenantProblems } from '../../src/token/tenant-folder.js';
import { isTenantId, requestTenant } from '../../src/token/tenant-id.js';
import { TENANT_RECHECK_MS, TenantResolver } from '../../src/token/tenant-resolver.js';
import { validateConfig, type RouteConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/log.js';

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

const covver = builtInProvider('covver') as NonNullable<ReturnType<typeof builtInProvider>>;

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
    expect(upstreamRequestHeaders(raw, undefined, 'Bearer t', 'authorization', 'x-token-sidecar-tenant')).toEqual(['accept', 'json', 'authorization', 'Bearer t']);
    expect(upstreamRequestHeaders(raw, undefined, 'Bearer t')).toContain('X-Token-Sidecar-Tenant');
  });
});

describe('resolving a tenant (explicit clock: no waiting)', () => {
  async function resolver(provider: 'covver' | 'light') {
    const { directory } = await layout();
    const [route] = validateConfig({ routes: { billing: { provider, upstream: 'https://api.example.com', tenants: { directory } } } }).routes as [RouteConfig];
    const lines: Array<Record<string, unknown>> = [];
    const logger = { error: (line: Record<string, unknown>) => void lines.push(line) } as unknown as Logger;
    return { directory, route, lines, tenants: new TenantResolver(10, logger) };
  }
  const codeOf = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return (error as SidecarError).code;
    }
    return 'resolved';
  };

  it("a tenant without a folder keeps nothing: its folder is used the moment it appears", async () => {
    const { directory, route, tenants } = await resolver('covver');
    expect(codeOf(() => tenants.resolve(route, 'newco', 'k', 0))).toBe('unknown_tenant');
    await mkdir(join(directory, 'newco'));
    await writeFile(join(directory, 'newco', 'clientId'), 'id');
    await writeFile(join(directory, 'newco', 'clientSecret'), 'secret');
    const found = tenants.resolve(route, 'newco', 'k', 0);
    expect(found.kind === 'fetched' && found.route.tenant).toBe('newco');
    expect(found.kind === 'fetched' && found.route.name).toBe('billing');
    expect(found.kind === 'fetched' && found.route.credentials.read()).toEqual({ clientId: 'id', clientSecret: 'secret' });
  });

  it('an invalid folder is read and logged once per TENANT_RECHECK_MS, then read again', async () => {
    const { directory, route, lines, tenants } = await resolver('covver');
    await writeFile(join(directory, 'acme', 'stray'), 'x');
    for (const now of [0, 1, TENANT_RECHECK_MS - 1]) expect(codeOf(() => tenants.resolve(route, 'acme', 'k', now))).toBe('unknown_tenant');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'tenant_invalid', route: 'billing', tenant: 'acme', problems: [`${join(directory, 'acme', 'stray')}: is not a credential field of provider covver; remove the file`] });
    await rm(join(directory, 'acme', 'stray'));
    expect(codeOf(() => tenants.resolve(route, 'acme', 'k', TENANT_RECHECK_MS))).toBe('resolved');
  });

  it("an API-key tenant's header is kept for TENANT_RECHECK_MS, then its rotated key is read", async () => {
    const { directory, route, tenants } = await resolver('light');
    await mkdir(join(directory, 'keyed'));
    await writeFile(join(directory, 'keyed', 'apiKey'), 'first\n');
    const header = (now: number) => {
      const found = tenants.resolve(route, 'keyed', 'k', now);
      return found.kind === 'static' ? found.authorization.header : found.kind;
    };
    expect(header(0)).toBe('Basic first');
    await writeFile(join(directory, 'keyed', 'apiKey'), 'second');
    expect(header(TENANT_RECHECK_MS - 1)).toBe('Basic first');
    expect(header(TENANT_RECHECK_MS)).toBe('Basic second');
  });

  it("a tenant's folder is compared again at most once per TENANT_RECHECK_MS, and tells a change", async () => {
    const { directory, route, tenants } = await resolver('covver');
    const found = tenants.resolve(route, 'acme', 'k', 0);
    if (found.kind !== 'fetched') throw new Error('expected a fetched tenant');
    await writeFile(join(directory, 'acme', 'clientSecret'), 'fixed');
    expect(TenantResolver.fixed(found.route, TENANT_RECHECK_MS - 1)).toBe(false);
    expect(TenantResolver.fixed(found.route, TENANT_RECHECK_MS)).toBe(true);
    expect(TenantResolver.fixed(found.route, 2 * TENANT_RECHECK_MS)).toBe(false);
  });
});
