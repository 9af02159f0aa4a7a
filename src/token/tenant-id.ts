import { SidecarError } from '../errors.js';

/**
 * SPEC §2's tenant ids, `[A-Za-z0-9._-]{1,64}`, less those starting with a dot: `.`, `..` and
 * Kubernetes' own `..data` entries are never tenants, so no id can name a parent or a hidden folder.
 */
const TENANT_ID = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;

/** Whether `value` may name a tenant folder (a single path segment below the tenants directory). */
export function isTenantId(value: string): boolean {
  return TENANT_ID.test(value);
}

/**
 * The tenant a request names in its tenant header: `tenant_required` when the header is absent or
 * empty, `unknown_tenant` when it cannot be a tenant id (so it never reaches the file system).
 */
export function requestTenant(route: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new SidecarError('tenant_required', { route, detail: 'the tenant header is missing or empty' });
  if (!isTenantId(value)) throw new SidecarError('unknown_tenant', { route, detail: 'the tenant header is not a valid tenant id' });
  return value;
}
