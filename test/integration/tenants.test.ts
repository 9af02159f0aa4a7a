// Per-tenant credentials (issue 10, point 1) through the built sidecar: real emulators that
// register one client per tenant, so the API's whoami names the tenant each token belongs to.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDescribedEmulator, startEmulator, type EmulatedProvider, type Emulator, type ProviderDescriptionInput } from '../../src/emulators/index.js';
import { call, type Json } from '../support/http.js';
import { startRedis } from '../support/redis.js';
import { metricValue, startSidecar, waitFor, type RunningSidecar } from '../support/sidecar.js';
import { seeded, tenantClients, tenantsFolder, type TenantsFolder } from '../support/tenants.js';

const HEADER = 'x-token-sidecar-tenant';
const agent = new Agent({ connections: 32 });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => agent.close());

async function emulator(kind: EmulatedProvider, count: number, options: { lifetimeSeconds?: number; apiKeys?: string[] } = {}): Promise<Emulator> {
  const clients = tenantClients(count).map(({ client }) => client);
  const started = await startEmulator(kind, { clients, ...options });
  cleanups.push(() => started.close());
  return started;
}

async function folders(): Promise<TenantsFolder> {
  const tenants = await tenantsFolder();
  cleanups.push(() => tenants.remove());
  return tenants;
}

async function sidecarFor(config: Record<string, unknown>): Promise<RunningSidecar> {
  const sidecar = await startSidecar(config);
  cleanups.push(() => sidecar.stop());
  return sidecar;
}

const tenantRoute = (upstream: Emulator, directory: string) => ({ provider: upstream.provider, upstream: upstream.apiUrl, tokenUrl: upstream.tokenUrl, tenants: { directory } });

interface Seen {
  status: number;
  error: string | undefined;
  clientId: string | undefined;
  /** The request headers the API received. */
  headers: Json;
}

async function asTenant(sidecar: RunningSidecar, tenant: string | undefined, path = '/billing/whoami'): Promise<Seen> {
  const response = await request(`${sidecar.url}${path}`, { dispatcher: agent, headers: tenant === undefined ? {} : { [HEADER]: tenant } });
  const text = await response.body.text();
  const error = response.headers['x-token-sidecar-error'];
  const json = response.statusCode === 200 ? (JSON.parse(text) as Json) : undefined;
  return { status: response.statusCode, error: typeof error === 'string' ? error : undefined, clientId: json?.clientId as string | undefined, headers: (json?.headers ?? {}) as Json };
}

/** Polls a tenant until it is answered 200: a changed folder is compared at most once a second. */
function servedEventually(sidecar: RunningSidecar, tenant: string, what: string): Promise<Seen> {
  return waitFor(async () => {
    const answer = await asTenant(sidecar, tenant);
    return answer.status === 200 ? answer : undefined;
  }, { timeoutMs: 10_000, intervalMs: 100, what });
}

async function metrics(sidecar: RunningSidecar): Promise<string> {
  return (await call(`${sidecar.adminUrl}/metrics`)).text;
}

/** Runs `total` requests `concurrency` at a time; `tenantOf(i)` names request i's tenant. Returns those not answered by their own tenant's client. */
async function spread(sidecar: RunningSidecar, total: number, concurrency: number, tenantOf: (index: number) => string): Promise<string[]> {
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const tenant = tenantOf(next++);
        const seen = await asTenant(sidecar, tenant);
        if (seen.status !== 200 || seen.clientId !== `${tenant}-client` || HEADER in seen.headers) wrong.push(`${tenant}: ${seen.status} ${seen.error ?? ''} ${seen.clientId ?? ''}`);
      }
    }),
  );
  return wrong;
}

describe('a route with per-tenant credentials', () => {
  let covver: Emulator;
  let tenants: TenantsFolder;
  let sidecar: RunningSidecar;
  const all = tenantClients(1000);
  const later = tenantClients(1, 1000)[0] as { id: string; client: { clientId: string; clientSecret: string } };

  beforeAll(async () => {
    const clients = [...all, later].map(({ client }) => client);
    covver = await startEmulator('covver', { clients });
    tenants = await tenantsFolder();
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client })));
    sidecar = await startSidecar({ cache: { maxEntries: 2000 }, routes: { billing: tenantRoute(covver, tenants.directory) } });
  });
  afterAll(async () => {
    expect(await sidecar?.stop()).toBe(0);
    await covver?.close();
    await tenants?.remove();
  });

  it("1,000 tenants, 20,000 requests spread over them: each upstream request carries its own tenant's token, the tenant header stays behind, one token request per tenant", async () => {
    // Single flight per tenant: 50 requests at once for a tenant not fetched yet, one token request.
    const burst = await Promise.all(Array.from({ length: 50 }, () => asTenant(sidecar, 'tenant-0000')));
    expect(burst.every((seen) => seen.status === 200 && seen.clientId === 'tenant-0000-client')).toBe(true);
    expect(covver.stats.tokenRequests).toBe(1);

    const random = seeded(10);
    const order = Array.from({ length: 20_000 }, (_, index) => (index < 1000 ? index : Math.floor(random() * 1000)));
    // The first 1,000 go to every tenant once (in a shuffled order), the rest anywhere.
    for (let index = 999; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      [order[index], order[other]] = [order[other] as number, order[index] as number];
    }
    const wrong = await spread(sidecar, order.length, 32, (index) => (all[order[index] as number] as { id: string }).id);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(covver.stats.tokenRequests).toBe(1000);
    expect(covver.stats.apiAuthorized).toBe(20_050);

    const text = await metrics(sidecar);
    expect(metricValue(text, 'token_sidecar_token_cache_entries')).toBe(1000);
    expect(metricValue(text, 'token_sidecar_token_refresh_total', { route: 'billing', result: 'success' })).toBe(1000);
    // No tenant id in any label: the series stay bounded by routes, whatever the tenants.
    expect(text).not.toMatch(/tenant-\d{4}/);
    const ready = (await call(`${sidecar.adminUrl}/readyz`)).json as { routes: Json[] };
    expect(ready.routes).toEqual([{ route: 'billing', provider: 'covver', state: 'tenants', refreshing: false, tenants: { cached: 1000, rejected: 0 } }]);
  }, 60_000);

  it('a tenant whose folder appears while the sidecar runs is served at once, without a restart', async () => {
    expect((await asTenant(sidecar, later.id)).error).toBe('unknown_tenant');
    await tenants.write(later.id, later.client);
    const seen = await asTenant(sidecar, later.id);
    expect(seen.status).toBe(200);
    expect(seen.clientId).toBe(`${later.id}-client`);
  });

  it('no tenant header is 400 tenant_required; a tenant without a folder is 403 unknown_tenant; neither reaches the provider', async () => {
    const before = { token: covver.stats.tokenRequests, api: covver.stats.apiRequests };
    const missing = await asTenant(sidecar, undefined);
    expect([missing.status, missing.error]).toEqual([400, 'tenant_required']);
    expect((await asTenant(sidecar, '')).error).toBe('tenant_required');
    const unknown = await asTenant(sidecar, 'nobody-here');
    expect([unknown.status, unknown.error]).toEqual([403, 'unknown_tenant']);
    expect({ token: covver.stats.tokenRequests, api: covver.stats.apiRequests }).toEqual(before);
  });

  it('a tenant header that climbs out of the tenants folder reads nothing there: ../x, .., dot folders and encoded forms are unknown tenants', async () => {
    // A valid credential folder right beside the tenants folder, and one hidden inside it.
    const outside = join(tenants.root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'clientId'), later.client.clientId);
    await writeFile(join(outside, 'clientSecret'), later.client.clientSecret);
    await tenants.write('..hidden', later.client);
    for (const header of ['../outside', '..', '.', '..hidden', '..%2foutside', 'tenant-0001/../../outside', '/etc', 'a'.repeat(65)]) {
      const seen = await asTenant(sidecar, header);
      expect([header, seen.status, seen.error]).toEqual([header, 403, 'unknown_tenant']);
    }
  });
});

describe('tenants beyond cache.maxEntries', () => {
  it('with cache.maxEntries 100 and 300 tenants the cache stays at 100 entries, and an evicted tenant is fetched again (from the store while its token is valid)', async () => {
    const covver = await emulator('covver', 300);
    const tenants = await folders();
    const all = tenantClients(300);
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client })));
    const sidecar = await sidecarFor({ cache: { maxEntries: 100 }, routes: { billing: tenantRoute(covver, tenants.directory) } });

    const wrong = await spread(sidecar, 3000, 16, (index) => (all[index % 300] as { id: string }).id);
    expect(wrong.slice(0, 5)).toEqual([]);
    const entries = metricValue(await metrics(sidecar), 'token_sidecar_token_cache_entries');
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThanOrEqual(100);
    // Round-robin over 300 tenants through 100 entries: every request found its tenant evicted and
    // fetched it again; the store still held each one's valid token, so only the first fetch asked Covver.
    expect(metricValue(await metrics(sidecar), 'token_sidecar_token_cache_total', { route: 'billing', result: 'miss' })).toBe(3000);
    expect(covver.stats.tokenRequests).toBe(300);
    // Once the stored token is refused upstream, the evicted tenant asks its token endpoint again.
    covver.expireAllAccessTokens();
    expect((await asTenant(sidecar, 'tenant-0000')).clientId).toBe('tenant-0000-client');
    expect(covver.stats.tokenRequests).toBe(301);
  }, 60_000);
});

describe('rotating grants per tenant', () => {
  it('Light tenants with 1 s tokens through 5 cache entries: each chain rotates under its own store key, no refresh token is ever replayed', async () => {
    const light = await emulator('light', 20, { lifetimeSeconds: 1 });
    const tenants = await folders();
    const all = tenantClients(20);
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client, refreshToken: light.issueRefreshToken(client.clientId) })));
    const storeFile = join(tenants.root, 'state.json');
    const sidecar = await sidecarFor({ store: { type: 'file', path: storeFile }, cache: { maxEntries: 5 }, routes: { billing: tenantRoute(light, tenants.directory) } });

    // Rounds over every tenant until each chain has rotated several times, evicted between uses.
    let rounds = 0;
    const wrong: string[] = [];
    await waitFor(async () => {
      wrong.push(...(await spread(sidecar, all.length, 4, (index) => (all[index] as { id: string }).id)));
      rounds += 1;
      return (light.stats.byGrant.refresh_token ?? 0) >= 3 * all.length ? true : undefined;
    }, { timeoutMs: 40_000, what: 'three rotations per tenant' });
    expect(light.stats.refreshReplays).toBe(0);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(light.stats.apiUnauthorized).toBe(0);
    expect(rounds).toBeGreaterThan(1);

    // Each tenant's newest refresh token is stored under a key of its own, and still live (after a
    // graceful stop, which lets refreshes in flight store what they rotated).
    expect(await sidecar.stop()).toBe(0);
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as { grants?: Record<string, { refreshToken?: string }> } & Record<string, { refreshToken?: string }>;
    const grants = stored.grants ?? stored;
    for (const { id } of all) {
      const keys = Object.keys(grants).filter((key) => key.endsWith(`\u0000tenant=${id}`));
      expect(keys, id).toHaveLength(1);
      expect(light.refreshTokenSpent(grants[keys[0] as string]?.refreshToken as string), id).toBe(false);
    }
  }, 60_000);
});

describe('rotating grants per tenant across replicas', () => {
  it('two replicas on one Redis, Light tenants with 1 s tokens through 3 cache entries each: every chain shared per tenant, no replay, no failed request', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const light = await emulator('light', 8, { lifetimeSeconds: 1 });
    const tenants = await folders();
    const all = tenantClients(8);
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client, refreshToken: light.issueRefreshToken(client.clientId) })));
    const config = { store: { type: 'redis', url: redis.url }, cache: { maxEntries: 3 }, routes: { billing: tenantRoute(light, tenants.directory) } };
    const replicas = await Promise.all([sidecarFor(config), sidecarFor(config)]);
    const wrong: string[] = [];
    await waitFor(async () => {
      const rounds = replicas.map((replica) => spread(replica, all.length, 2, (index) => (all[index] as { id: string }).id));
      for (const failed of await Promise.all(rounds)) wrong.push(...failed);
      return (light.stats.byGrant.refresh_token ?? 0) >= 3 * all.length ? true : undefined;
    }, { timeoutMs: 40_000, what: 'three rotations per tenant' });
    expect(light.stats.refreshReplays).toBe(0);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(light.stats.apiUnauthorized).toBe(0);
  }, 60_000);
});

describe('a tenant folder that changes', () => {
  it('a tenant rejected for a wrong secret is served once its folder holds the right one, without a restart', async () => {
    const covver = await emulator('covver', 1);
    const tenants = await folders();
    const [only] = tenantClients(1) as [{ id: string; client: { clientId: string; clientSecret: string } }];
    await tenants.write(only.id, { clientId: only.client.clientId, clientSecret: 'wrong-secret-7f3a' });
    const sidecar = await sidecarFor({ refresh: { rejectedRetry: '1h' }, routes: { billing: tenantRoute(covver, tenants.directory) } });

    expect((await asTenant(sidecar, only.id)).error).toBe('token_rejected');
    expect(sidecar.output()).not.toContain('wrong-secret-7f3a');
    await tenants.write(only.id, only.client);
    // Compared with its folder at most once a second, on its own requests.
    expect((await servedEventually(sidecar, only.id, 'the fixed tenant')).clientId).toBe(only.client.clientId);
    expect(sidecar.output()).not.toContain(only.client.clientSecret);
  });

  it('a tenant folder with a missing field is 403 unknown_tenant, logged once a second at most, naming the file, never a value; once complete it is served', async () => {
    const covver = await emulator('covver', 1);
    const tenants = await folders();
    const [only] = tenantClients(1) as [{ id: string; client: { clientId: string; clientSecret: string } }];
    await tenants.write(only.id, { clientId: only.client.clientId });
    await tenants.write('other-half', { clientSecret: 'x' });
    const sidecar = await sidecarFor({ routes: { billing: tenantRoute(covver, tenants.directory) } });
    const burst = await Promise.all(Array.from({ length: 20 }, () => asTenant(sidecar, only.id)));
    expect(burst.every((seen) => seen.status === 403 && seen.error === 'unknown_tenant')).toBe(true);
    // Another tenant's line comes after every line of the burst (stdout keeps the order).
    await asTenant(sidecar, 'other-half');
    await waitFor(() => sidecar.logs.find((entry) => entry.event === 'tenant_invalid' && entry.tenant === 'other-half'));
    const lines = sidecar.logs.filter((entry) => entry.event === 'tenant_invalid' && entry.tenant === only.id);
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines[0]?.problems)).toContain(join(tenants.directory, only.id, 'clientSecret'));
    expect(sidecar.output()).not.toContain(only.client.clientId);
    expect(covver.stats.tokenRequests).toBe(0);

    await tenants.write(only.id, only.client);
    expect((await servedEventually(sidecar, only.id, 'the completed tenant')).clientId).toBe(only.client.clientId);
  });
});

describe('every provider, every way in', () => {
  it.each(['cobee', 'petje'] as const)("%s tenants each get their own client's token (Petje: each its own rotating refresh token)", async (kind) => {
    const upstream = await emulator(kind, 5);
    const tenants = await folders();
    const all = tenantClients(5);
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client, ...(kind === 'petje' ? { refreshToken: upstream.issueRefreshToken(client.clientId) } : {}) })));
    const sidecar = await sidecarFor({ routes: { billing: tenantRoute(upstream, tenants.directory) } });
    expect(await spread(sidecar, 50, 5, (index) => (all[index % 5] as { id: string }).id)).toEqual([]);
    expect(upstream.stats.tokenRequests).toBe(5);
    expect(upstream.stats.refreshReplays).toBe(0);
  });

  it('Light tenants with a static API key: each sends its own, and a rotated key file is used within a second, without a token call', async () => {
    // The provider knows globex's key and acme's new one, not acme's old one.
    const light = await emulator('light', 1, { apiKeys: ['key-of-globex', 'key-of-acme-rotated'] });
    const tenants = await folders();
    await tenants.write('acme', { apiKey: 'key-of-acme-old' });
    await tenants.write('globex', { apiKey: 'key-of-globex' });
    const sidecar = await sidecarFor({ routes: { billing: tenantRoute(light, tenants.directory) } });
    expect((await asTenant(sidecar, 'globex')).status).toBe(200);
    // The upstream's own 401 for the old key comes back unchanged.
    expect(await asTenant(sidecar, 'acme')).toMatchObject({ status: 401, error: undefined });
    await tenants.write('acme', { apiKey: 'key-of-acme-rotated' });
    await servedEventually(sidecar, 'acme', 'the rotated key');
    expect((await asTenant(sidecar, 'globex')).status).toBe(200);
    expect(light.stats.tokenRequests).toBe(0);
    expect(sidecar.output()).not.toMatch(/key-of-/);
  });

  it('a provider described in config: each tenant gets its own token, sent where the description says', async () => {
    const acme: ProviderDescriptionInput = {
      tokenUrl: 'https://auth.acme.example/v2/auth/login',
      encoding: 'json',
      grant: { fields: { grant: 'client', id: '{clientId}', key: '{clientSecret}' } },
      response: { accessToken: 'sessionToken', expiresIn: 'validFor' },
      send: { header: 'X-Acme-Session', scheme: 'Session' },
    };
    const all = tenantClients(3);
    const upstream = await startDescribedEmulator('acme', acme, { clients: all.map(({ client }) => client) });
    cleanups.push(() => upstream.close());
    const tenants = await folders();
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client })));
    const sidecar = await sidecarFor({ providers: { acme }, routes: { billing: { provider: 'acme', upstream: upstream.apiUrl, tokenUrl: upstream.tokenUrl, tenants: { directory: tenants.directory } } } });
    expect(await spread(sidecar, 30, 3, (index) => (all[index % 3] as { id: string }).id)).toEqual([]);
    expect(upstream.stats.tokenRequests).toBe(3);
  });

  it("a WebSocket upgrade carries its tenant's token; without the tenant header it is refused with 400", async () => {
    const covver = await emulator('covver', 2);
    const tenants = await folders();
    const all = tenantClients(2);
    await Promise.all(all.map(({ id, client }) => tenants.write(id, { ...client })));
    const sidecar = await sidecarFor({ routes: { billing: tenantRoute(covver, tenants.directory) } });
    for (const { id, client } of all) {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/billing/ws`, { headers: { [HEADER]: id } });
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hello'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      ws.close();
      expect(echoed).toBe(`${client.clientId}: hello`);
    }
    const refused = new WebSocket(`${sidecar.url.replace('http', 'ws')}/billing/ws`);
    const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(400);
  });
});
