import { Pool, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { metricValue, startSidecar, type RunningSidecar } from '../support/sidecar.js';

const running: Array<{ stop(): Promise<unknown> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of running.splice(0).reverse()) await ('stop' in item ? item.stop() : item.close());
});

async function emulator(provider: 'covver' | 'cobee' | 'petje' | 'light', lifetimeSeconds?: number): Promise<Emulator> {
  const started = await startEmulator(provider, lifetimeSeconds === undefined ? {} : { lifetimeSeconds });
  running.push(started);
  return started;
}

async function sidecarFor(config: Record<string, unknown>): Promise<RunningSidecar> {
  const started = await startSidecar(config);
  running.push(started);
  return started;
}

async function metrics(sidecar: RunningSidecar): Promise<string> {
  return (await request(`${sidecar.adminUrl}/metrics`)).body.text();
}

describe('token lifecycle', () => {
  it('1,000 concurrent first requests on one route cause exactly one token request', async () => {
    const covver = await emulator('covver');
    const sidecar = await sidecarFor({
      refresh: { eager: false },
      routes: { covver: { provider: 'covver', upstream: covver.apiUrl, tokenUrl: covver.tokenUrl, credentials: DEMO_CLIENTS.covver } },
    });
    const pool = new Pool(sidecar.url, { connections: 200 });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 1000 }, async () => {
          const response = await pool.request({ path: '/covver/whoami', method: 'GET' });
          await response.body.dump();
          return response.statusCode;
        }),
      );
      expect(statuses.every((status) => status === 200)).toBe(true);
    } finally {
      await pool.close();
    }
    expect(covver.stats.tokenRequests).toBe(1);
    const text = await metrics(sidecar);
    expect(metricValue(text, 'token_sidecar_token_cache_total', { route: 'covver', result: 'miss' })).toBe(1);
    expect(metricValue(text, 'token_sidecar_token_cache_total', { route: 'covver', result: 'coalesced' })).toBeGreaterThan(0);
    const lookups = ['miss', 'coalesced', 'hit'].reduce((sum, result) => sum + metricValue(text, 'token_sidecar_token_cache_total', { route: 'covver', result }), 0);
    expect(lookups).toBe(1000);
    expect(metricValue(text, 'token_sidecar_token_refresh_total', { route: 'covver', grant: 'client_credentials', result: 'success' })).toBe(1);
  });

  it('with 2-second tokens, 10 seconds of continuous requests see no 401 and never wait on a refresh', async () => {
    const cobee = await emulator('cobee', 2);
    const sidecar = await sidecarFor({
      routes: { cobee: { provider: 'cobee', upstream: cobee.apiUrl, tokenUrl: cobee.tokenUrl, credentials: DEMO_CLIENTS.cobee } },
    });
    // The eager start-up fetch: from here on every request should find a valid token.
    await expect.poll(() => cobee.stats.tokenRequests, { timeout: 5_000 }).toBe(1);
    const statuses = new Map<number, number>();
    const until = Date.now() + 10_000;
    const worker = async () => {
      while (Date.now() < until) {
        const response = await request(`${sidecar.url}/cobee/whoami`);
        await response.body.dump();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(statuses.get(200)).toBe(total);
    expect(cobee.stats.apiUnauthorized).toBe(0);
    // Lifetime-driven, not request-driven: a refresh every 1.5–1.6 s, not one per request.
    expect(total).toBeGreaterThan(200);
    expect(cobee.stats.tokenRequests).toBeGreaterThanOrEqual(6);
    expect(cobee.stats.tokenRequests).toBeLessThanOrEqual(9);
    const text = await metrics(sidecar);
    // No request waited: every lookup was a hit on a valid token.
    expect(metricValue(text, 'token_sidecar_token_cache_total', { route: 'cobee', result: 'miss' })).toBe(0);
    expect(metricValue(text, 'token_sidecar_token_cache_total', { route: 'cobee', result: 'coalesced' })).toBe(0);
    expect(metricValue(text, 'token_sidecar_token_cache_total', { route: 'cobee', result: 'hit' })).toBe(total);
  }, 30_000);

  it('Light refresh-token rotation over 5 refreshes, with reuse revoking the family: zero failures', async () => {
    const light = await emulator('light', 1);
    const sidecar = await sidecarFor({
      routes: {
        light: { provider: 'light', upstream: light.apiUrl, tokenUrl: light.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken: light.issueRefreshToken() } },
      },
    });
    let failures = 0;
    let requests = 0;
    while ((light.stats.byGrant.refresh_token ?? 0) < 6) {
      const response = await request(`${sidecar.url}/light/whoami`);
      await response.body.dump();
      requests += 1;
      if (response.statusCode !== 200) failures += 1;
    }
    expect(requests).toBeGreaterThan(5);
    expect(failures).toBe(0);
    expect(light.stats.apiUnauthorized).toBe(0);
    const text = await metrics(sidecar);
    expect(metricValue(text, 'token_sidecar_token_refresh_total', { route: 'light', result: 'success' })).toBeGreaterThanOrEqual(6);
    expect(metricValue(text, 'token_sidecar_token_refresh_total', { route: 'light', result: 'rejected' })).toBe(0);
    expect(metricValue(text, 'token_sidecar_token_refresh_total', { route: 'light', result: 'error' })).toBe(0);
    // A rotated refresh token is never logged.
    expect(sidecar.output()).not.toMatch(/refresh_token"?\s*[:=]\s*"?[A-Za-z0-9]/);
  }, 30_000);

  it('Covver refreshes with its refresh token on the refresh path', async () => {
    const covver = await emulator('covver', 1);
    const sidecar = await sidecarFor({
      routes: { covver: { provider: 'covver', upstream: covver.apiUrl, tokenUrl: covver.tokenUrl, credentials: DEMO_CLIENTS.covver } },
    });
    await expect.poll(() => covver.stats.byGrant.refresh_token ?? 0, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect(covver.stats.byGrant.client_credentials).toBe(1);
    expect((await request(`${sidecar.url}/covver/whoami`)).statusCode).toBe(200);
  });
});
