// /healthz and /readyz of the built sidecar (SPEC §5, issue 4 point 2): liveness while serving;
// readiness 200 with each route's token state (valid until, static, refreshing, failing since),
// 503 only for rejected credentials or during shutdown, and never a secret in the body.
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { startSidecar, waitFor, type RunningSidecar } from '../support/sidecar.js';
import { call, jsonStrings, looksLikeToken, mark, routeFor, type Answer, type Json } from './sidecar-kit.js';

const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

async function emulator(...args: Parameters<typeof startEmulator>): Promise<Emulator> {
  const started = await startEmulator(...args);
  closers.push(() => started.close());
  return started;
}

async function sidecar(config: Json): Promise<RunningSidecar> {
  const running = await startSidecar({ refresh: { backoffInitial: '200ms', backoffMax: '500ms', rejectedRetry: '1h' }, ...config });
  closers.push(() => running.stop());
  return running;
}

interface RouteState {
  route: string;
  provider: string;
  state: string;
  refreshing: boolean;
  validUntil?: string;
  failingSince?: string;
  reason?: string;
}

interface Readiness {
  answer: Answer;
  status: string;
  routes: RouteState[];
  state(route: string): RouteState | undefined;
}

async function readyz(running: RunningSidecar): Promise<Readiness> {
  const answer = await call(`${running.adminUrl}/readyz`);
  expect(answer.headers['content-type']).toBe('application/json');
  expect(answer.headers['cache-control']).toBe('no-store');
  const body = answer.json as { status: string; routes: RouteState[] };
  return { answer, status: body.status, routes: body.routes, state: (route) => body.routes.find((entry) => entry.route === route) };
}

/** Polls /readyz until `accept` holds for it. */
function readyzUntil(running: RunningSidecar, accept: (readiness: Readiness) => boolean, what: string): Promise<Readiness> {
  return waitFor(async () => {
    const readiness = await readyz(running);
    return accept(readiness) ? readiness : undefined;
  }, { what, timeoutMs: 10_000 });
}

const seconds = (iso: string | undefined) => Date.parse(iso ?? '') / 1000;

function expectNoSecrets(answer: Answer, secrets: string[]): void {
  for (const secret of secrets) expect(answer.text).not.toContain(secret);
  for (const text of jsonStrings(answer.json)) expect(looksLikeToken(text), text).toBe(false);
}

describe('/healthz and /readyz while serving', () => {
  it('healthz 200; readyz 200 with valid (validUntil) for an OAuth route and static for an API-key route', async () => {
    const apiKey = mark('obs-readyz-api-key');
    const covver = await emulator('covver', { lifetimeSeconds: 300 });
    const light = await emulator('light', { apiKeys: [apiKey] });
    const running = await sidecar({
      routes: {
        covver: routeFor(covver),
        'light-key': { provider: 'light', upstream: light.apiUrl, tokenUrl: light.tokenUrl, credentials: { apiKey } },
      },
    });
    const health = await call(`${running.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });

    const ready = await readyzUntil(running, (r) => r.state('covver')?.state === 'valid', 'covver valid');
    expect(ready.answer.status).toBe(200);
    expect(ready.status).toBe('ready');
    const now = Date.now() / 1000;
    expect(ready.state('covver')).toMatchObject({ provider: 'covver', state: 'valid', refreshing: false });
    expect(seconds(ready.state('covver')?.validUntil)).toBeGreaterThan(now + 250);
    expect(seconds(ready.state('covver')?.validUntil)).toBeLessThanOrEqual(now + 300);
    expect(ready.state('light-key')).toEqual({ route: 'light-key', provider: 'light', state: 'static', refreshing: false });
    expect(ready.routes.map((entry) => entry.route)).toEqual(['covver', 'light-key']);
    expectNoSecrets(ready.answer, [apiKey]);
    expect((await call(`${running.url}/light-key/whoami`)).status).toBe(200);
  });
});

describe('/readyz when credentials are rejected', () => {
  it('200 by default (every replica shares a rejected credential), listing the route as rejected with failingSince and reason, no secret', async () => {
    const wrongSecret = mark('obs-readyz-wrong-secret');
    const covver = await emulator('covver');
    const running = await sidecar({
      routes: {
        covver: routeFor(covver),
        'wrong-secret': { ...routeFor(covver), credentials: { clientId: 'obs-readyz-unknown', clientSecret: wrongSecret } },
      },
    });
    const ready = await readyzUntil(running, (r) => r.state('wrong-secret')?.state === 'rejected' && r.state('covver')?.state === 'valid', 'wrong-secret rejected, covver valid');
    expect(ready.answer.status).toBe(200);
    expect(ready.status).toBe('ready');
    expect((ready.answer.json as { reason?: string }).reason).toMatch(/rejected.*wrong-secret.*failOnRejected/);
    const rejected = ready.state('wrong-secret');
    expect(rejected).toMatchObject({ provider: 'covver', state: 'rejected', reason: expect.stringMatching(/\S/) });
    expect(seconds(rejected?.failingSince)).toBeGreaterThan(Date.now() / 1000 - 30);
    expect(seconds(rejected?.failingSince)).toBeLessThanOrEqual(Date.now() / 1000);
    expect(rejected?.validUntil).toBeUndefined();
    expectNoSecrets(ready.answer, [wrongSecret]);
    // The healthy route keeps serving.
    expect((await call(`${running.url}/covver/whoami`)).status).toBe(200);
  });

  it('readiness.failOnRejected: true makes it 503 naming the rejected route; healthz stays 200', async () => {
    const wrongSecret = mark('obs-readyz-strict-secret');
    const covver = await emulator('covver');
    const running = await sidecar({
      readiness: { failOnRejected: true },
      routes: {
        covver: routeFor(covver),
        'wrong-secret': { ...routeFor(covver), credentials: { clientId: 'obs-readyz-unknown', clientSecret: wrongSecret } },
      },
    });
    const notReady = await readyzUntil(running, (r) => r.state('wrong-secret')?.state === 'rejected', 'readyz rejected');
    expect(notReady.answer.status).toBe(503);
    expect(notReady.status).toBe('not_ready');
    expect((notReady.answer.json as { reason?: string }).reason).toMatch(/rejected.*wrong-secret/);
    expectNoSecrets(notReady.answer, [wrongSecret]);
    expect((await call(`${running.adminUrl}/healthz`)).status).toBe(200);
    expect((await call(`${running.url}/covver/whoami`)).status).toBe(200);
  });
});

describe('/readyz while a token endpoint is slow or failing', () => {
  it('503 until the first token attempt ends, then valid, then failing (with validUntil) while the endpoint answers 500: readiness stays 200', async () => {
    const cobee = await emulator('cobee', { lifetimeSeconds: 20 });
    // The start-up fetch takes 1.5 s; after it, refresh-ahead at 90 % fires 1 to 2 s after the token was issued.
    cobee.injectTokenFault({ fault: { kind: 'delay', ms: 1_500 }, times: 1 });
    const running = await sidecar({ refresh: { ahead: 0.9, backoffInitial: '200ms', backoffMax: '500ms', rejectedRetry: '1h' }, routes: { cobee: routeFor(cobee) } });

    const refreshing = await readyzUntil(running, (r) => r.state('cobee')?.state === 'refreshing', 'cobee refreshing');
    // SPEC §5: not ready before the first token attempt of every route has ended (the chart's
    // startup probe holds the app's start until then).
    expect(refreshing.answer.status).toBe(503);
    expect((refreshing.answer.json as { reason?: string }).reason).toMatch(/first token attempt/);
    expect(refreshing.state('cobee')).toMatchObject({ state: 'refreshing', refreshing: true });
    expect(refreshing.state('cobee')?.validUntil).toBeUndefined();

    const valid = await readyzUntil(running, (r) => r.state('cobee')?.state === 'valid', 'cobee valid');
    cobee.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    expect(valid.answer.status).toBe(200);
    const validUntil = valid.state('cobee')?.validUntil;
    expect(seconds(validUntil)).toBeGreaterThan(Date.now() / 1000 + 15);

    const failing = await readyzUntil(running, (r) => r.state('cobee')?.state === 'failing', 'cobee failing');
    expect(failing.answer.status).toBe(200);
    expect(failing.status).toBe('ready');
    expect(failing.state('cobee')).toMatchObject({ state: 'failing', reason: 'http_500', validUntil });
    expect(seconds(failing.state('cobee')?.failingSince)).toBeLessThanOrEqual(Date.now() / 1000);
    // The token it still holds keeps serving.
    expect((await call(`${running.url}/cobee/whoami`)).status).toBe(200);

    cobee.injectTokenFault(undefined);
    const recovered = await readyzUntil(running, (r) => r.state('cobee')?.state === 'valid', 'cobee valid again');
    expect(seconds(recovered.state('cobee')?.validUntil)).toBeGreaterThan(seconds(validUntil));
    expect(recovered.state('cobee')?.failingSince).toBeUndefined();
  });
});

describe('/readyz during shutdown', () => {
  it('turns 503 after SIGTERM while a slow request is in flight, before the process exits', async () => {
    const cobee = await emulator('cobee');
    const running = await sidecar({ shutdownGrace: '10s', routes: { cobee: routeFor(cobee) } });
    await readyzUntil(running, (r) => r.answer.status === 200 && r.state('cobee')?.state === 'valid', 'ready');

    cobee.injectApiFault({ fault: { kind: 'delay', ms: 3_000 }, times: 1 });
    const before = cobee.stats.apiRequests;
    const slow = call(`${running.url}/cobee/whoami`);
    await waitFor(() => (cobee.stats.apiRequests > before ? true : undefined), { what: 'the slow request to reach the upstream' });
    let exitedAt: number | undefined;
    const exited = running.stop('SIGTERM').then((code) => {
      exitedAt = Date.now();
      return code;
    });

    const notReady = await readyzUntil(running, (r) => r.answer.status === 503, 'readyz 503 during shutdown');
    const sawAt = Date.now();
    expect(notReady.status).toBe('not_ready');
    expect((notReady.answer.json as { reason?: string }).reason).toMatch(/shutting down/);
    expect(notReady.state('cobee')?.state).toBe('valid');
    expect((await call(`${running.adminUrl}/healthz`)).status).toBe(200);

    expect((await slow).status).toBe(200);
    expect(await exited).toBe(0);
    expect(exitedAt).toBeGreaterThan(sawAt);
  });
});
