// Upstream faults as an app sees them: 401 storms cost one token request, a 401 with a fresh
// token goes back after one retry, stalls and resets are answered or cut (never a clean 200),
// and an app that leaves mid-answer frees its pooled connection.
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, Cleanup, client, closedPortUrl, fastConfig, metric, paced, routeFor, sidecarError, startSidecar, waitFor, waitForStatus, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const RETRIES = 'token_sidecar_upstream_retries_total';

async function setup(config: { routes?: (api: Emulator) => Record<string, Record<string, unknown>>; extra?: Record<string, unknown> } = {}): Promise<{ api: Emulator; running: RunningSidecar }> {
  const api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  const routes = config.routes?.(api) ?? { api: routeFor(api) };
  const running = cleanup.add(await startSidecar(fastConfig(routes, config.extra)), (started) => started.stop());
  await waitForStatus(`${running.url}/${Object.keys(routes)[0] as string}/whoami`);
  return { api, running };
}

describe('upstream 401s', () => {
  it('a 401 storm after every token dies costs exactly one token request; every request ends 200', async () => {
    const { api, running } = await setup();
    const agent = cleanup.add(client(64), (dispatcher) => dispatcher.close());
    const tokensBefore = api.stats.tokenRequests;
    const unauthorizedBefore = api.stats.apiUnauthorized;
    const retriesBefore = await metric(running, RETRIES, { route: 'api', reason: 'unauthorized' });
    api.expireAllAccessTokens();
    const answers = await Promise.all(Array.from({ length: 50 }, () => call(`${running.url}/api/whoami`, { dispatcher: agent })));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    expect(api.stats.tokenRequests - tokensBefore).toBe(1);
    const storm = api.stats.apiUnauthorized - unauthorizedBefore;
    expect(storm).toBeGreaterThanOrEqual(1);
    // Every 401 the upstream gave was retried once, and the counter says so.
    expect((await metric(running, RETRIES, { route: 'api', reason: 'unauthorized' })) - retriesBefore).toBe(storm);
  });

  it('a 401 with a fresh token goes back to the app after one retry', async () => {
    const { api, running } = await setup();
    api.injectApiFault({ fault: { kind: 'unauthorized' } });
    const before = { api: api.stats.apiRequests, tokens: api.stats.tokenRequests, retries: await metric(running, RETRIES, { route: 'api' }) };
    const answer = await call(`${running.url}/api/whoami`);
    expect(answer.status).toBe(401);
    expect(sidecarError(answer)).toBeUndefined(); // the upstream's own answer, unchanged
    expect(answer.json).toEqual({ message: 'Unauthorized' });
    expect(api.stats.apiRequests - before.api).toBe(2);
    expect(api.stats.tokenRequests - before.tokens).toBe(1);
    expect((await metric(running, RETRIES, { route: 'api' })) - before.retries).toBe(1);
    api.injectApiFault(undefined);
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
  });

  it('regression: 401s that survive a fresh token do not cost a token request each (backoff, then one probe)', async () => {
    const { api, running } = await setup({ extra: { refresh: { backoffInitial: '200ms', backoffMax: '800ms' } } });
    api.injectApiFault({ fault: { kind: 'unauthorized' } });
    const before = { api: api.stats.apiRequests, tokens: api.stats.tokenRequests };
    expect((await call(`${running.url}/api/whoami`)).status).toBe(401);
    expect(api.stats.tokenRequests - before.tokens).toBe(1);
    // Right after a fresh token was answered 401, further 401s go straight back: one upstream request each.
    const quick = await Promise.all(Array.from({ length: 5 }, () => call(`${running.url}/api/whoami`)));
    expect(quick.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401]);
    expect(api.stats.tokenRequests - before.tokens).toBe(1);
    expect(api.stats.apiRequests - before.api).toBe(2 + 5);
    // A steady stream of 401s: a probe with a fresh token per backoff window (200, 400, 800, 800 ms...), not per request.
    const stream = await paced(25, 2_000, () => call(`${running.url}/api/whoami`));
    expect(new Set(stream.map((answer) => answer.status))).toEqual(new Set([401]));
    const tokens = api.stats.tokenRequests - before.tokens;
    expect(tokens).toBeGreaterThanOrEqual(2);
    expect(tokens).toBeLessThanOrEqual(10);
    api.injectApiFault(undefined);
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
  });

  it('a body over upstream.retryBodyLimit is streamed and not retried; a small one is replayed intact', async () => {
    const { api, running } = await setup({ extra: { upstream: { retryBodyLimit: 1024 } } });
    api.expireAllAccessTokens();
    const retries = await metric(running, RETRIES, { route: 'api' });
    const apiRequests = api.stats.apiRequests;
    const large = Buffer.alloc(8 * 1024, 'a');
    const streamed = await call(`${running.url}/api/echo`, { method: 'POST', body: large, headers: { 'content-type': 'application/octet-stream' } });
    expect(streamed.status).toBe(401);
    expect(api.stats.apiRequests - apiRequests).toBe(1);
    // A chunked body (length unknown) is streamed too.
    const chunked = await call(`${running.url}/api/echo`, { method: 'POST', body: Readable.from([Buffer.from('abc'), Buffer.from('def')]) });
    expect(chunked.status).toBe(401);
    expect(await metric(running, RETRIES, { route: 'api' })).toBe(retries);
    const small = 'x'.repeat(900);
    const replayed = await call(`${running.url}/api/echo`, { method: 'POST', body: small, headers: { 'content-type': 'text/plain' } });
    expect(replayed.status).toBe(200);
    expect(replayed.text).toBe(small);
    expect(await metric(running, RETRIES, { route: 'api' })).toBe(retries + 1);
  });
});

describe('upstream transport faults', () => {
  it('an upstream that stalls past timeouts.upstreamHeaders gives 504 upstream_timeout, and the pool recovers', async () => {
    const { api, running } = await setup({ extra: { upstream: { connections: 2 } } });
    api.injectApiFault({ fault: { kind: 'stall' }, times: 4 });
    const started = performance.now();
    const stalled = await Promise.all(Array.from({ length: 4 }, () => call(`${running.url}/api/whoami`)));
    for (const answer of stalled) {
      expect(answer.status).toBe(504);
      expect(sidecarError(answer)).toBe('upstream_timeout');
      expect(answer.json).toMatchObject({ error: 'upstream_timeout', route: 'api' });
    }
    expect(performance.now() - started).toBeLessThan(8_000);
    const after = await Promise.all(Array.from({ length: 10 }, () => call(`${running.url}/api/whoami`)));
    expect(after.map((answer) => answer.status)).toEqual(after.map(() => 200));
  });

  it('an upstream that stalls mid-body past timeouts.idle cuts the app answer, and the pool recovers', async () => {
    // A stand-in upstream: headers and 1 KiB of a 100 KiB body, then silence, on every other request.
    let count = 0;
    const upstream = cleanup.add(
      createServer((req, res) => {
        req.resume();
        count += 1;
        if (count % 2 === 0) return void res.end('ok');
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(100 * 1024) });
        res.write(Buffer.alloc(1024, 'x'));
      }),
      (server) => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
    );
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const { running } = await setup({ routes: (api) => ({ api: routeFor(api), slow: routeFor(api, { upstream: origin }) }), extra: { timeouts: { idle: '800ms' }, upstream: { connections: 1 } } });
    for (let round = 0; round < 2; round += 1) {
      const started = performance.now();
      const outcome = await request(`${running.url}/slow/anything`)
        .then(async (res) => `clean ${res.statusCode} ${(await res.body.text()).length}`)
        .catch((error: Error) => `cut: ${error.message}`);
      expect(outcome).toMatch(/^cut/);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await call(`${running.url}/slow/anything`)).text).toBe('ok');
    }
  });

  it('an upstream reset mid-body cuts the app answer: never a clean 200', async () => {
    const { api, running } = await setup();
    api.injectApiFault({ fault: { kind: 'resetMidBody' }, times: 1 });
    const outcome = await request(`${running.url}/api/whoami`)
      .then(async (res) => {
        await res.body.text();
        return `clean ${res.statusCode}`;
      })
      .catch((error: Error) => `cut: ${error.message}`);
    expect(outcome).toMatch(/^cut/);
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
  });

  it('an upstream on a closed port gives 502 upstream_unavailable', async () => {
    const closed = await closedPortUrl();
    const { running } = await setup({ routes: (api) => ({ live: routeFor(api), dead: routeFor(api, { upstream: `${closed}/api/v3` }) }) });
    const answer = await call(`${running.url}/dead/whoami`);
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('upstream_unavailable');
    expect(answer.json).toMatchObject({ error: 'upstream_unavailable', route: 'dead' });
    expect((await call(`${running.url}/live/whoami`)).status).toBe(200);
  });

  it('an upstream that accepts TCP but never completes the TLS handshake is cut at timeouts.connect: 502', async () => {
    const sockets = new Set<Socket>();
    const silent = cleanup.add(
      createNetServer((socket) => void sockets.add(socket)),
      (server) => new Promise((resolve) => (sockets.forEach((socket) => socket.destroy()), server.close(resolve))),
    );
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const { running } = await setup({ routes: (api) => ({ api: routeFor(api), silent: routeFor(api, { upstream: origin }) }), extra: { timeouts: { connect: '500ms', upstreamHeaders: '20s' } } });
    const started = performance.now();
    const answer = await call(`${running.url}/silent/whoami`);
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('upstream_unavailable');
    expect(performance.now() - started).toBeLessThan(5_000);
    await waitFor(() => (running.logs.some((line) => line.event === 'request_failed' && String(line.detail).includes('CONNECT_TIMEOUT')) ? true : undefined), { what: 'the connect timeout in the log' });
  });

  it('upstream 4xx and 5xx answers go back unchanged', async () => {
    const { running } = await setup();
    for (const status of [404, 429, 500, 503]) {
      const answer = await call(`${running.url}/api/status/${status}`);
      expect(answer.status).toBe(status);
      expect(sidecarError(answer)).toBeUndefined();
    }
  });
});

describe('apps that leave', () => {
  it('a client that leaves before the upstream answers aborts the upstream request at once', async () => {
    // One pooled connection and a long headers timeout: a request that was not aborted would hold it for 30 s.
    const { api, running } = await setup({ extra: { upstream: { connections: 1 }, timeouts: { upstreamHeaders: '30s' } } });
    api.injectApiFault({ fault: { kind: 'stall' }, times: 1 });
    const before = api.stats.apiRequests;
    const controller = new AbortController();
    const leaving = request(`${running.url}/api/whoami`, { signal: controller.signal });
    await waitFor(() => (api.stats.apiRequests > before ? true : undefined), { what: 'the stalled request to reach the upstream' });
    controller.abort();
    await expect(leaving).rejects.toThrow();
    const next = await request(`${running.url}/api/whoami`, { signal: AbortSignal.timeout(10_000) });
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });

  it('a client that disconnects mid-response aborts the upstream request and the pool recovers', async () => {
    const { running } = await setup({ extra: { upstream: { connections: 2 } } });
    // An endless body: a request that was not aborted would hold its pooled connection forever.
    for (let index = 0; index < 8; index += 1) {
      const controller = new AbortController();
      const res = await request(`${running.url}/api/bytes/999999999999999`, { signal: controller.signal });
      expect(res.statusCode).toBe(200);
      for await (const chunk of res.body) {
        expect((chunk as Buffer).length).toBeGreaterThan(0);
        break; // leaves: the iterator's return() destroys the body and the connection
      }
      controller.abort();
    }
    await waitFor(async () => ((await metric(running, 'token_sidecar_requests_total', { route: 'api', code: '499' })) >= 8 ? true : undefined), { what: '8 requests counted as client-closed' });
    const agent = cleanup.add(client(16), (dispatcher) => dispatcher.close());
    const after = await Promise.all(Array.from({ length: 40 }, () => call(`${running.url}/api/whoami`, { dispatcher: agent })));
    expect(after.map((answer) => answer.status)).toEqual(after.map(() => 200));
  });
});
