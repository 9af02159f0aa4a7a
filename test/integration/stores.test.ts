import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator } from '../../src/emulators/index.js';
import { startRedis } from '../support/redis.js';
import { runCli, startSidecar, writeConfig, type RunningSidecar } from '../support/sidecar.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(config: Record<string, unknown>): Promise<RunningSidecar> {
  const sidecar = await startSidecar(config);
  cleanups.push(() => sidecar.stop());
  return sidecar;
}

async function status(url: string): Promise<number> {
  const response = await request(url);
  await response.body.dump();
  return response.statusCode;
}

describe('file store', () => {
  it('keeps a rotated Light refresh token across restarts (the config bootstrap token is dead by then)', async () => {
    const light = await startEmulator('light', { lifetimeSeconds: 1 });
    cleanups.push(() => light.close());
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-store-'));
    const config = {
      store: { type: 'file', path: join(dir, 'state', 'grants.json') },
      routes: { light: { provider: 'light', upstream: light.apiUrl, tokenUrl: light.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken: light.issueRefreshToken() } } },
    };
    const first = await startSidecar(config);
    // Several rotations: the bootstrap refresh token in the config is long dead.
    await expect.poll(() => light.stats.byGrant.refresh_token ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(await first.stop()).toBe(0);
    const file = join(dir, 'state', 'grants.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(DEMO_CLIENTS.light.clientSecret);

    const second = await started(config);
    expect(await status(`${second.url}/light/whoami`)).toBe(200);
    await expect.poll(() => light.stats.byGrant.refresh_token ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    expect(await status(`${second.url}/light/whoami`)).toBe(200);
    expect(light.stats.apiUnauthorized).toBe(0);
  }, 30_000);

  it('token-sidecar authorize exchanges a one-time code and the sidecar then runs on the stored grant', async () => {
    const petje = await startEmulator('petje');
    cleanups.push(() => petje.close());
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-authorize-'));
    const configFile = await writeConfig(
      {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        store: { type: 'file', path: join(dir, 'grants.json') },
        routes: { petje: { provider: 'petje', upstream: petje.apiUrl, tokenUrl: petje.tokenUrl, credentials: DEMO_CLIENTS.petje } },
      },
      dir,
    );
    const code = petje.issueAuthorizationCode();
    const authorized = await runCli(['authorize', 'petje', '--code', code, '--config', configFile]);
    expect(authorized.stderr).toBe('');
    expect(authorized.code).toBe(0);
    expect(authorized.stdout).toContain('refresh token stored');
    expect(authorized.stdout).not.toContain(code);
    expect(petje.stats.byGrant.authorization_code).toBe(1);
    // The code is one-time: a second exchange is rejected, with exit 1 and no secret printed.
    const again = await runCli(['authorize', 'petje', '--code', code, '--config', configFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('rejected');
    expect(again.stderr).not.toContain(code);

    const { readFile: read } = await import('node:fs/promises');
    const config = (await import('yaml')).parse(await read(configFile, 'utf8')) as Record<string, unknown>;
    const sidecar = await started(config);
    expect(await status(`${sidecar.url}/petje/whoami`)).toBe(200);
  });

  it('authorize refuses a memory store and an unknown route with exit 2', async () => {
    const configFile = await writeConfig({ routes: { petje: { provider: 'petje', upstream: 'https://api.petje.af/v1', credentials: DEMO_CLIENTS.petje } } });
    const memory = await runCli(['authorize', 'petje', '--code', 'x', '--config', configFile]);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain('store.type is memory');
    const unknown = await runCli(['authorize', 'nope', '--code', 'x', '--config', configFile]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('route "nope"');
  });
});

describe('redis store', () => {
  it('two replicas share one rotating Light grant without ever reusing a refresh token', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const light = await startEmulator('light', { lifetimeSeconds: 2 });
    cleanups.push(() => light.close());
    const config = {
      store: { type: 'redis', url: redis.url },
      routes: { light: { provider: 'light', upstream: light.apiUrl, tokenUrl: light.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken: light.issueRefreshToken() } } },
    };
    const replicas = [await started(config), await started(config)];
    const answers = new Map<number, number>();
    const until = Date.now() + 7_000;
    await Promise.all(
      replicas.map(async (replica) => {
        while (Date.now() < until) {
          const code = await status(`${replica.url}/light/whoami`);
          answers.set(code, (answers.get(code) ?? 0) + 1);
        }
      }),
    );
    expect([...answers.keys()]).toEqual([200]);
    expect(light.stats.apiUnauthorized).toBe(0);
    // Both replicas refresh from the same stored chain: one lifetime-driven sequence, not two.
    expect(light.stats.byGrant.refresh_token).toBeGreaterThanOrEqual(3);
    expect(light.stats.byGrant.refresh_token).toBeLessThanOrEqual(8);
    for (const replica of replicas) expect(replica.output()).not.toContain('"reason":"invalid_grant"');
  }, 30_000);
});
