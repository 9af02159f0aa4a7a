// The issue "Never lose a grant" across processes: real redis-server, several built sidecars,
// Light's emulator (rotates on every use, revokes the family on any replay, counts replays).
// Each test is named after what broke before.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { startRedis } from '../support/redis.js';
import { runCli, startSidecar, waitFor, writeConfig, type RunningSidecar } from '../support/sidecar.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const agent = new Agent({ connections: 64 });

async function started(config: Record<string, unknown>): Promise<RunningSidecar> {
  const sidecar = await startSidecar(config);
  cleanups.push(() => sidecar.stop());
  return sidecar;
}

async function emulator(lifetimeSeconds: number): Promise<Emulator> {
  const light = await startEmulator('light', { lifetimeSeconds });
  cleanups.push(() => light.close());
  return light;
}

interface Answered {
  status: number;
  ms: number;
  error?: string;
  retryAfter?: string;
}

async function hit(url: string): Promise<Answered> {
  const started = Date.now();
  try {
    const response = await request(url, { dispatcher: agent, headersTimeout: 30_000 });
    await response.body.dump();
    const error = response.headers['x-token-sidecar-error'];
    const retryAfter = response.headers['retry-after'];
    return { status: response.statusCode, ms: Date.now() - started, ...(typeof error === 'string' ? { error } : {}), ...(typeof retryAfter === 'string' ? { retryAfter } : {}) };
  } catch {
    return { status: 0, ms: Date.now() - started };
  }
}

/** Sequential request loops, `perReplica` at a time against every replica, until `stop()` resolves. */
function load(replicas: readonly RunningSidecar[], perReplica = 2): { answers: Answered[]; done(): Promise<Answered[]> } {
  const answers: Answered[] = [];
  let running = true;
  const loops = replicas.flatMap((replica) =>
    Array.from({ length: perReplica }, async () => {
      while (running) answers.push(await hit(`${replica.url}/light/whoami`));
    }),
  );
  return {
    answers,
    done: async () => {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** One row of the README's table (printed; `npx vitest run test/integration/grant-fleet.test.ts`). */
function report(scenario: string, replicas: number, provider: Emulator, answers: readonly Answered[]): void {
  const failed = answers.filter((answer) => answer.status !== 200).length;
  console.info(`| ${scenario} | ${replicas} | ${provider.stats.byGrant.refresh_token ?? 0} | ${provider.stats.tokenRequests} | ${answers.length} | ${failed} | ${provider.stats.refreshReplays} |`);
}

const lightRoute = (light: Emulator, refreshToken: string) => ({ provider: 'light', upstream: light.apiUrl, tokenUrl: light.tokenUrl, credentials: { ...DEMO_CLIENTS.light, refreshToken } });
const counts = (answers: readonly Answered[]) => answers.reduce<Record<number, number>>((all, answer) => ({ ...all, [answer.status]: (all[answer.status] ?? 0) + 1 }), {});

describe('many replicas, one grant', () => {
  it('five replicas share one Light grant across 10 rotations: one token request per refresh period, no replay, no failed request', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const lifetimeSeconds = 1;
    const light = await emulator(lifetimeSeconds);
    const config = { store: { type: 'redis', url: redis.url }, routes: { light: lightRoute(light, light.issueRefreshToken()) } };
    const replicas = await Promise.all(Array.from({ length: 5 }, () => started(config)));
    const begin = Date.now();
    const traffic = load(replicas);
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= 10 ? true : undefined), { timeoutMs: 30_000, what: '10 rotations' });
    const answers = await traffic.done();
    const elapsed = Date.now() - begin;
    const refreshes = light.stats.byGrant.refresh_token ?? 0;
    // Refresh-ahead at 75-80% of the life: at most one refresh per 0.75 s for the whole fleet.
    const periods = Math.ceil(elapsed / (lifetimeSeconds * 1000 * 0.75)) + 1;
    report('five replicas, one Light grant, 1 s tokens', 5, light, answers);
    expect(light.stats.refreshReplays).toBe(0);
    expect(counts(answers)).toEqual({ 200: answers.length });
    expect(light.stats.tokenRequests).toBe(refreshes);
    expect(refreshes).toBeLessThanOrEqual(periods);
    expect(light.stats.apiUnauthorized).toBe(0);
  }, 60_000);
});

describe('store faults', () => {
  it('Redis restarted empty under load: the replicas re-seed it, hold the re-seeded refresh token for the lock TTL, no replay, no failed request', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const light = await emulator(15);
    // Lock TTL 0.5 s x 2 + 5 s = 6 s: the hold after the restart. Refreshing with 75-94% of the
    // 15 s life left, every token outlives it, so no request fails while the fleet waits.
    const config = { timeouts: { token: '500ms' }, refresh: { ahead: 0.75 }, store: { type: 'redis', url: redis.url }, routes: { light: lightRoute(light, light.issueRefreshToken()) } };
    const replicas = await Promise.all(Array.from({ length: 3 }, () => started(config)));
    const traffic = load(replicas);
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= 3 ? true : undefined), { timeoutMs: 20_000, what: '3 rotations' });
    await redis.restartEmpty();
    const afterRestart = light.stats.byGrant.refresh_token ?? 0;
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= afterRestart + 3 ? true : undefined), { timeoutMs: 30_000, what: '3 rotations after the restart' });
    const answers = await traffic.done();
    report('Redis restarted empty under load (no persistence), 15 s tokens, 6 s lock TTL', 3, light, answers);
    expect(light.stats.refreshReplays).toBe(0);
    expect(counts(answers)).toEqual({ 200: answers.length });
    expect(replicas.some((replica) => replica.output().includes('"event":"store_reseeded"'))).toBe(true);
  }, 60_000);

  it('the lock holder SIGKILLed mid-refresh: no app request waits past timeouts.token, 503s carry Retry-After, the grant goes on', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.close());
    const light = await emulator(3);
    const config = { timeouts: { token: '1s' }, store: { type: 'redis', url: redis.url }, routes: { light: lightRoute(light, light.issueRefreshToken()) } };
    const replicas = await Promise.all(Array.from({ length: 2 }, () => started(config)));
    const traffic = load(replicas, 1);
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= 2 ? true : undefined), { timeoutMs: 20_000, what: 'the shared grant' });
    // The next token request hangs: its sender holds the lock; kill it there.
    const before = light.stats.tokenRequests;
    light.injectTokenFault({ fault: { kind: 'hang' }, times: 1 });
    await waitFor(() => (light.stats.tokenRequests > before ? true : undefined), { timeoutMs: 20_000, what: 'the hung refresh' });
    const client = new Redis(redis.url);
    cleanups.push(() => client.quit());
    const keys = await client.keys('token-sidecar:*:lock');
    const owner = await client.get(keys[0] as string);
    const pid = Number(owner?.split('/')[1]);
    const holder = replicas.find((replica) => replica.child.pid === pid) as RunningSidecar;
    const survivor = replicas.find((replica) => replica !== holder) as RunningSidecar;
    expect(holder).toBeDefined();
    holder.child.kill('SIGKILL');
    const killedAt = traffic.answers.length;
    // The survivor takes over once the dead holder's lock expires (1 s x 2 attempts + 5 s).
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= 4 ? true : undefined), { timeoutMs: 30_000, what: 'the survivor to go on with the grant' });
    const answers = (await traffic.done()).slice(killedAt).filter((answer) => answer.status !== 0);
    const fromSurvivor = answers; // the holder's loop only sees connection errors (status 0) after the kill
    report('lock holder SIGKILLed mid-refresh (survivor\'s requests; 503s while the dead lock lives)', 2, light, fromSurvivor);
    expect(fromSurvivor.length).toBeGreaterThan(0);
    for (const answer of fromSurvivor) {
      expect([200, 503]).toContain(answer.status);
      expect(answer.ms).toBeLessThan(1_000 + 750);
      if (answer.status === 503) {
        expect(answer.error).toBe('token_unavailable');
        expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      }
    }
    expect(fromSurvivor.at(-1)?.status).toBe(200);
    expect(light.stats.refreshReplays).toBe(0);
    expect(survivor.output()).not.toContain('invalid_grant');
  }, 60_000);
});

describe('shutdown and the file store', () => {
  it('SIGTERM during a held rotation: the rotated refresh token is stored before exit and the next start goes on from it', async () => {
    const light = await emulator(2);
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-sigterm-'));
    const config = { store: { type: 'file', path: join(dir, 'grants.json') }, routes: { light: lightRoute(light, light.issueRefreshToken()) } };
    const first = await startSidecar(config);
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= 2 ? true : undefined), { timeoutMs: 20_000, what: 'two rotations' });
    const before = light.stats.tokenRequests;
    light.injectTokenFault({ fault: { kind: 'delay', ms: 1_500 }, times: 1 });
    await waitFor(() => (light.stats.tokenRequests > before ? true : undefined), { timeoutMs: 20_000, what: 'the held refresh' });
    expect(await first.stop()).toBe(0);
    // The answer came during shutdown; its refresh token is the newest the emulator issued.
    expect(light.stats.issuedTokens).toBe(light.stats.byGrant.refresh_token);
    const second = await started(config);
    await waitFor(() => ((light.stats.byGrant.refresh_token ?? 0) >= before + 3 ? true : undefined), { timeoutMs: 20_000, what: 'rotations after the restart' });
    expect((await hit(`${second.url}/light/whoami`)).status).toBe(200);
    expect(light.stats.refreshReplays).toBe(0);
  }, 60_000);

  it('authorize into a running sidecar\'s file store: the sidecar uses the new grant from its next token fetch and never overwrites it', async () => {
    const petje = await startEmulator('petje', { lifetimeSeconds: 2 });
    cleanups.push(() => petje.close());
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-authorize-live-'));
    const config = {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      // An hour: only the store's change notification can bring the route in within the test.
      refresh: { rejectedRetry: '1h' },
      store: { type: 'file', path: join(dir, 'grants.json') },
      routes: { petje: { provider: 'petje', upstream: petje.apiUrl, tokenUrl: petje.tokenUrl, credentials: DEMO_CLIENTS.petje } },
    };
    const configFile = await writeConfig(config, dir);
    const sidecar = await started(config);
    // No refresh token yet: the route stands rejected (no_refresh_token).
    expect((await hit(`${sidecar.url}/petje/whoami`)).error).toBe('token_rejected');
    const authorized = await runCli(['authorize', 'petje', '--code', petje.issueAuthorizationCode(), '--config', configFile]);
    expect(authorized.code).toBe(0);
    await waitFor(async () => ((await hit(`${sidecar.url}/petje/whoami`)).status === 200 ? true : undefined), { timeoutMs: 10_000, what: 'the authorized grant in use' });
    // A second consent while running: the sidecar switches to it, and its own writes never clobber it.
    const rotations = petje.stats.byGrant.refresh_token ?? 0;
    const again = await runCli(['authorize', 'petje', '--code', petje.issueAuthorizationCode(), '--config', configFile]);
    expect(again.code).toBe(0);
    const written = JSON.parse(await readFile(join(dir, 'grants.json'), 'utf8')) as Record<string, { generation: number; refreshToken: string }>;
    const consent = Object.values(written)[0] as { generation: number; refreshToken: string };
    await waitFor(() => ((petje.stats.byGrant.refresh_token ?? 0) >= rotations + 3 ? true : undefined), { timeoutMs: 20_000, what: 'rotations on the new consent' });
    const now = Object.values(JSON.parse(await readFile(join(dir, 'grants.json'), 'utf8')) as Record<string, { generation: number }>)[0] as { generation: number };
    expect(now.generation).toBeGreaterThan(consent.generation);
    // The chain went on from the new consent's refresh token (it was spent), not the old chain's.
    expect(petje.refreshTokenSpent(consent.refreshToken)).toBe(true);
    expect(petje.stats.refreshReplays).toBe(0);
    expect((await hit(`${sidecar.url}/petje/whoami`)).status).toBe(200);
  }, 60_000);
});
