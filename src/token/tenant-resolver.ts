import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { RouteConfig } from '../config/load.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { readTenantFolder, TenantSource, tenantProblems } from './tenant-folder.js';

/**
 * How often a tenant whose credentials were rejected, that uses a static API key, or whose folder is
 * invalid, has its folder read again (on its own requests only: the cost stays bounded by the traffic).
 */
export const TENANT_RECHECK_MS = 1_000;

/** What a tenant's folder gives: a static header (no token to fetch), or the tenant's own view of its route. */
export type TenantCredentials =
  | { readonly kind: 'static'; readonly authorization: { readonly header: string; readonly tokenId: number } }
  | { readonly kind: 'fetched'; readonly route: RouteConfig };

/** A tenant read with no token to fetch: its static header, or none (invalid folder). */
interface ReadTenant {
  readonly authorization: { readonly header: string; readonly tokenId: number } | undefined;
  readonly readAt: number;
}

/**
 * Turns a tenant id into credentials by reading its folder. API-key tenants and invalid folders are
 * remembered for TENANT_RECHECK_MS (an invalid folder is logged once per read, naming its files),
 * in an LRU bounded like the credentials; a tenant without a folder keeps nothing.
 */
export class TenantResolver {
  readonly #read: LRUCache<string, ReadTenant>;
  readonly #logger: Logger;

  constructor(maxEntries: number, logger: Logger) {
    this.#read = new LRUCache<string, ReadTenant>({ max: maxEntries });
    this.#logger = logger;
  }

  /** The credentials of tenant `id` (already a valid id) on `route`; throws `unknown_tenant`. */
  resolve(route: RouteConfig, id: string, key: string, now: number): TenantCredentials {
    const invalid = () => new SidecarError('unknown_tenant', { route: route.name, detail: 'the tenant folder holds no valid credentials' });
    const known = this.#read.get(key);
    if (known && now - known.readAt < TENANT_RECHECK_MS) {
      if (known.authorization) return { kind: 'static', authorization: known.authorization };
      throw invalid();
    }
    this.#read.delete(key);
    const directory = route.tenants?.directory ?? '';
    const read = readTenantFolder(directory, id);
    if (read.kind === 'missing') throw new SidecarError('unknown_tenant', { route: route.name, detail: 'no folder for this tenant' });
    const problems = read.kind === 'found' ? tenantProblems(route.dialect, join(directory, id), read.values) : read.problems;
    if (read.kind !== 'found' || problems.length > 0) {
      this.#read.set(key, { authorization: undefined, readAt: now });
      this.#logger.error({ event: 'tenant_invalid', route: route.name, tenant: id, problems }, 'the tenant folder holds no valid credentials; fix the files named');
      throw invalid();
    }
    const header = route.dialect.staticAuthorization?.(read.values);
    if (header !== undefined) {
      const authorization = { header, tokenId: 0 };
      this.#read.set(key, { authorization, readAt: now });
      return { kind: 'static', authorization };
    }
    return { kind: 'fetched', route: { ...route, tenant: id, credentials: new TenantSource(directory, id, read.values, now) } };
  }

  /** Whether a rejected tenant's folder changed since its credentials were last read (at most once per TENANT_RECHECK_MS). */
  static fixed(route: RouteConfig, now: number): boolean {
    const source = route.credentials;
    return source instanceof TenantSource && now - source.checkedAt >= TENANT_RECHECK_MS && source.changed(now);
  }

  clear(): void {
    this.#read.clear();
  }
}
