// Token-endpoint faults as an app sees them: every request gets a clear answer at once
// (503 token_unavailable with Retry-After, or 502 token_rejected), the token endpoint is not
// hammered, other routes keep serving, and a still-valid token is never replaced by an expired one.
import { createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type TokenFault } from '../../src/emulators/index.js';
import { call, Cleanup, closedPortUrl, fastConfig, metric, paced, readyz, routeFor, sidecarError, startSidecar, waitFor, waitForRouteState, waitForStatus, type Answer, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function emulator(provider: 'cobee' | 'covver' | 'petje' | 'light' = 'cobee', options: Parameters<typeof startEmulator>[1] = {}): Promise<Emulator> {
  return cleanup.add(await startEmulator(provider, options), (started) => started.close());
}

async function sidecar(config: Record<string, unknown>, args: string[] = []): Promise<RunningSidecar> {
  return cleanup.add(await startSidecar(config, { args }), (started) => started.stop());
}

function expectUnavailable(answer: Answer, route: string): void {
  expect(answer.status).toBe(503);
  expect(sidecarError(answer)).toBe('token_unavailable');
  expect(answer.json).toMatchObject({ error: 'token_unavailable', route });
  expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe('token endpoint faults', () => {
  it('a token endpoint slower than timeouts.token gives 503 token_unavailable with Retry-After, never a hang', async () => {
    const slow = await emulator();
    const healthy = await emulator();
    slow.injectTokenFault({ fault: { kind: 'delay', ms: 5_000 } });
    const running = await sidecar(fastConfig({ slow: routeFor(slow), healthy: routeFor(healthy) }));
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const started = performance.now();
      const answer = await call(`${running.url}/slow/whoami`);
      // At most one token timeout (600 ms) of waiting, far from the 5 s the endpoint takes.
      expect(performance.now() - started).toBeLessThan(3_000);
      expectUnavailable(answer, 'slow');
    }
    expect((await call(`${running.url}/healthy/whoami`)).status).toBe(200);
    expect(running.logs.some((line) => line.event === 'token_refresh_failed' && line.reason === 'timeout')).toBe(true);
  });

  it('a hung token endpoint is timed out the same way', async () => {
    const hung = await emulator();
    hung.injectTokenFault({ fault: { kind: 'hang' } });
    const running = await sidecar(fastConfig({ hung: routeFor(hung) }));
    const started = performance.now();
    expectUnavailable(await call(`${running.url}/hung/whoami`), 'hung');
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('500s back off exponentially: token requests are bounded, not one per app request, and recovery follows', async () => {
    const failing = await emulator();
    failing.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    const running = await sidecar(fastConfig({ failing: routeFor(failing) }));
    await waitFor(() => (failing.stats.tokenRequests >= 1 ? true : undefined), { what: 'the startup token request' });
    const before = failing.stats.tokenRequests;
    const answers = await paced(25, 3_000, () => call(`${running.url}/failing/whoami`));
    const made = failing.stats.tokenRequests - before;
    for (const answer of answers) expectUnavailable(answer, 'failing');
    // Backoff 100 ms doubling to 800 ms with full jitter: about 6-8 attempts in 3 s; 75 app requests.
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThanOrEqual(25);
    failing.injectTokenFault(undefined);
    await waitForStatus(`${running.url}/failing/whoami`, 200, 'recovery after the 500s stop', 5_000);
  });

  it('a 429 with Retry-After is honoured: no token request before it passes', async () => {
    const limited = await emulator();
    limited.injectTokenFault({ fault: { kind: 'status', status: 429, headers: { 'retry-after': '2' } }, times: 1 });
    const running = await sidecar(fastConfig({ limited: routeFor(limited) }));
    await waitFor(() => (limited.stats.tokenRequests >= 1 ? true : undefined), { what: 'the startup token request' });
    const firstAt = performance.now();
    // App requests during the Retry-After window are answered at once and cause no token request.
    const answers = await paced(20, 1_200, () => call(`${running.url}/limited/whoami`));
    for (const answer of answers) {
      expectUnavailable(answer, 'limited');
      expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(2);
    }
    expect(limited.stats.tokenRequests).toBe(1);
    await waitForStatus(`${running.url}/limited/whoami`, 200, 'a token after Retry-After', 6_000);
    expect(limited.stats.tokenRequests).toBe(2);
    // The second request came no earlier than the 2 s the endpoint asked for.
    expect(performance.now() - firstAt).toBeGreaterThanOrEqual(1_900);
  });

  it('a token endpoint that resets the connection gives token_unavailable and the process keeps serving', async () => {
    const resetting = await emulator();
    const healthy = await emulator('covver');
    resetting.injectTokenFault({ fault: { kind: 'reset' } });
    const running = await sidecar(fastConfig({ resetting: routeFor(resetting), healthy: routeFor(healthy) }));
    expectUnavailable(await call(`${running.url}/resetting/whoami`), 'resetting');
    expect((await call(`${running.url}/healthy/whoami`)).status).toBe(200);
    await waitFor(async () => ((await metric(running, 'token_sidecar_token_refresh_total', { route: 'resetting', result: 'error' })) >= 1 ? true : undefined));
    resetting.injectTokenFault(undefined);
    await waitForStatus(`${running.url}/resetting/whoami`, 200, 'recovery after resets', 5_000);
  });

  it('a token endpoint on a closed port gives token_unavailable', async () => {
    const api = await emulator();
    const closed = await closedPortUrl();
    const running = await sidecar(fastConfig({ closed: routeFor(api, { tokenUrl: `${closed}/api/v3/oauth/token` }) }));
    for (let attempt = 0; attempt < 3; attempt += 1) expectUnavailable(await call(`${running.url}/closed/whoami`), 'closed');
    const ready = await readyz(running);
    expect(ready.status).toBe(200); // unreachable is transient, not a rejected credential
    expect(ready.json?.routes).toEqual([expect.objectContaining({ route: 'closed', state: 'failing', reason: 'connection' })]);
  });

  it('a token endpoint that does not speak HTTP gives token_unavailable, and the process lives on', async () => {
    const api = await emulator();
    const sockets = new Set<Socket>();
    const garbage = cleanup.add(
      createNetServer((socket) => {
        sockets.add(socket);
        socket.end('SSH-2.0-OpenSSH_9.6\r\nthis is not HTTP\r\n\r\n');
      }),
      (server) => new Promise((resolve) => (sockets.forEach((socket) => socket.destroy()), server.close(resolve))),
    );
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const port = (garbage.address() as { port: number }).port;
    const running = await sidecar(fastConfig({ api: routeFor(api, { tokenUrl: `http://127.0.0.1:${port}/api/v3/oauth/token` }) }));
    for (let attempt = 0; attempt < 3; attempt += 1) expectUnavailable(await call(`${running.url}/api/whoami`), 'api');
    expect(running.child.exitCode).toBeNull();
  });

  it('malformed 200 answers (HTML, garbage, 10 MB JSON, null token, negative expires_in) are transient: 503, other routes serve', async () => {
    const faults: Record<string, TokenFault> = {
      html: { kind: 'html' },
      garbage: { kind: 'garbage' },
      huge: { kind: 'huge', bytes: 10 * 1024 * 1024 },
      nulltoken: { kind: 'nullToken' },
      negative: { kind: 'expiresIn', value: -60 },
      stringy: { kind: 'expiresIn', value: 'soon' },
    };
    const routes: Record<string, Record<string, unknown>> = {};
    const emulators: Record<string, Emulator> = {};
    for (const [name, fault] of Object.entries(faults)) {
      const started = await emulator('cobee');
      started.injectTokenFault({ fault });
      emulators[name] = started;
      routes[name] = routeFor(started);
    }
    const healthy = await emulator('light');
    routes.healthy = routeFor(healthy);
    const running = await sidecar(fastConfig(routes));
    for (const name of Object.keys(faults)) {
      expectUnavailable(await call(`${running.url}/${name}/whoami`), name);
      expect((await call(`${running.url}/healthy/whoami`)).status).toBe(200);
    }
    const ready = await readyz(running);
    expect(ready.status).toBe(200);
    const states = ready.json?.routes as Array<{ route: string; state: string; reason?: string }>;
    for (const name of Object.keys(faults)) expect(states.find((state) => state.route === name)).toMatchObject({ state: 'failing', reason: 'malformed' });
    // The huge answer was cut at the client's limit, and the process is still whole.
    expect(running.child.exitCode).toBeNull();
    for (const [name, started] of Object.entries(emulators)) {
      started.injectTokenFault(undefined);
      await waitForStatus(`${running.url}/${name}/whoami`, 200, `recovery of ${name}`, 5_000);
    }
  });

  it('an absent expires_in uses refresh.defaultLifetime', async () => {
    const silent = await emulator('cobee', { omitExpiresIn: true, lifetimeSeconds: 3_600 });
    const running = await sidecar(fastConfig({ silent: routeFor(silent) }, { refresh: { defaultLifetime: '123s' } }));
    const started = Date.now();
    expect((await waitForStatus(`${running.url}/silent/whoami`)).status).toBe(200);
    const expiry = await metric(running, 'token_sidecar_token_expiry_timestamp_seconds', { route: 'silent' });
    expect(expiry * 1000 - started).toBeGreaterThan(110_000);
    expect(expiry * 1000 - started).toBeLessThan(135_000);
    expect(silent.stats.tokenRequests).toBe(1);
  });

  it('rejected credentials give 502 token_rejected, /readyz 503 naming the route, and no token request per app request', async () => {
    const cobee = await emulator('cobee');
    const covver = await emulator('covver');
    const petje = await emulator('petje');
    const running = await sidecar(
      fastConfig({
        cobee: routeFor(cobee, { credentials: { clientSecret: 'wrong-secret' } }),
        covver: routeFor(covver, { credentials: { clientSecret: 'wrong-secret' } }),
        petje: routeFor(petje, { credentials: { clientSecret: 'wrong-secret' } }),
      }),
    );
    const ready = await waitForRouteState(running, 'rejected');
    expect(ready.json?.reason).toMatch(/cobee/);
    const counts = [cobee, covver, petje].map((started) => started.stats.tokenRequests);
    const answers = await paced(30, 1_000, (index) => call(`${running.url}/${['cobee', 'covver', 'petje'][index % 3] as string}/whoami`));
    for (const answer of answers) {
      expect(answer.status).toBe(502);
      expect(sidecarError(answer)).toBe('token_rejected');
      expect(answer.headers['retry-after']).toBeUndefined();
    }
    expect([cobee, covver, petje].map((started) => started.stats.tokenRequests)).toEqual(counts);
    expect(counts).toEqual([1, 1, 1]);
  });
});

describe('terminal failures are not hammered', () => {
  it('rejected credentials are retried on the slow refresh.rejectedRetry schedule, not per request', async () => {
    const api = await emulator();
    const running = await sidecar(fastConfig({ api: routeFor(api, { credentials: { clientSecret: 'wrong-secret' } }) }, { refresh: { rejectedRetry: '700ms' } }));
    await waitFor(() => (api.stats.tokenRequests >= 1 ? true : undefined), { what: 'the startup token request' });
    const before = api.stats.tokenRequests;
    const answers = await paced(30, 2_500, () => call(`${running.url}/api/whoami`));
    expect(new Set(answers.map((answer) => sidecarError(answer)))).toEqual(new Set(['token_rejected']));
    // About one attempt per 700 ms: 3 or 4 in 2.5 s, against 75 app requests.
    const made = api.stats.tokenRequests - before;
    expect(made).toBeGreaterThanOrEqual(2);
    expect(made).toBeLessThanOrEqual(6);
  });

  it('non-JSON error answers are classified by status: a 4xx is rejected, a 5xx is transient', async () => {
    const html = { 'content-type': 'text/html' };
    const client = await emulator();
    const server = await emulator();
    client.injectTokenFault({ fault: { kind: 'status', status: 400, body: '<html><body>Bad Request</body></html>', headers: html } });
    server.injectTokenFault({ fault: { kind: 'status', status: 502, body: '<html><body>Bad Gateway</body></html>', headers: html } });
    const running = await sidecar(fastConfig({ client: routeFor(client), server: routeFor(server) }));
    const rejected = await waitFor(async () => {
      const answer = await call(`${running.url}/client/whoami`);
      return answer.status === 502 ? answer : undefined;
    });
    expect(sidecarError(rejected)).toBe('token_rejected');
    expectUnavailable(await call(`${running.url}/server/whoami`), 'server');
    const states = (await readyz(running)).json?.routes as Array<{ route: string; state: string; reason?: string }>;
    expect(states.find((state) => state.route === 'client')).toMatchObject({ state: 'rejected', reason: 'http_400' });
    expect(states.find((state) => state.route === 'server')).toMatchObject({ state: 'failing', reason: 'http_502' });
  });
});

describe('grants survive broken answers', () => {
  it('a malformed 200 that rotated the refresh token (Petje, Light) keeps the new one: the grant is not lost', async () => {
    const faults: Record<string, TokenFault> = {
      nulltoken: { kind: 'nullToken' },
      negative: { kind: 'expiresIn', value: -60 },
      huge: { kind: 'huge', bytes: 10 * 1024 * 1024 },
    };
    const routes: Record<string, Record<string, unknown>> = {};
    for (const provider of ['petje', 'light'] as const) {
      for (const [name, fault] of Object.entries(faults)) {
        const started = await emulator(provider);
        // The startup refresh spends the bootstrap refresh token and gets a spoiled answer.
        started.injectTokenFault({ fault, times: 1 });
        routes[`${provider}-${name}`] = routeFor(started);
      }
    }
    const running = await sidecar(fastConfig(routes));
    for (const name of Object.keys(routes)) await waitForStatus(`${running.url}/${name}/whoami`, 200, `${name} to recover`, 5_000);
    expect(running.logs.filter((line) => line.kind === 'rejected')).toEqual([]);
    expect((await readyz(running)).status).toBe(200);
  });
});

describe('serving what is still valid', () => {
  it('keeps injecting the current token while background refresh fails, until it expires, then 503; never an expired forward', async () => {
    const api = await emulator('cobee', { lifetimeSeconds: 6 });
    const running = await sidecar(fastConfig({ api: routeFor(api) }, { refresh: { ahead: 0.5 } }));
    await waitForStatus(`${running.url}/api/whoami`);
    api.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    // The refresh-ahead (at 50-62% of 6 s) fails; the token is still good for seconds after.
    await waitFor(async () => ((await metric(running, 'token_sidecar_token_refresh_total', { route: 'api', result: 'error' })) >= 1 ? true : undefined), { timeoutMs: 8_000, what: 'a failed background refresh' });
    const during = await call(`${running.url}/api/whoami`);
    expect(during.status).toBe(200);
    expect((await readyz(running)).json?.routes).toEqual([expect.objectContaining({ state: 'failing', validUntil: expect.any(String) })]);
    // Keep calling: 200s until the token nears expiry, then 503s, never a 200 after the first 503.
    const statuses: number[] = [];
    await waitFor(
      async () => {
        const answer = await call(`${running.url}/api/whoami`);
        statuses.push(answer.status);
        if (answer.status === 503) expectUnavailable(answer, 'api');
        return answer.status === 503 ? true : undefined;
      },
      { timeoutMs: 8_000, intervalMs: 25, what: 'the token to expire' },
    );
    const after = await paced(20, 500, () => call(`${running.url}/api/whoami`));
    expect(after.map((answer) => answer.status)).toEqual(after.map(() => 503));
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set([200]));
    expect(api.stats.apiUnauthorized).toBe(0);
  });
});
