// Graceful shutdown: SIGTERM turns readiness 503 and closes the listeners, lets what is in
// flight finish (up to shutdownGrace), then exits 0.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startEmulator } from '../../src/emulators/index.js';
import { call, Cleanup, fastConfig, readyz, routeFor, startSidecar, waitFor, waitForStatus } from './kit.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function setup(shutdownGrace: string) {
  const api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  const running = cleanup.add(await startSidecar(fastConfig({ api: routeFor(api) }, { shutdownGrace, timeouts: { upstreamHeaders: '30s' } })), (started) => started.stop());
  await waitForStatus(`${running.url}/api/whoami`);
  return { api, running };
}

describe('graceful shutdown', () => {
  it('SIGTERM with a slow request in flight: readyz 503, new connections refused, the request completes 200, exit 0', async () => {
    const { api, running } = await setup('10s');
    api.injectApiFault({ fault: { kind: 'delay', ms: 1_500 }, times: 1 });
    const before = api.stats.apiRequests;
    const slow = call(`${running.url}/api/whoami`);
    await waitFor(() => (api.stats.apiRequests > before ? true : undefined), { what: 'the slow request to reach the upstream' });
    const exited = running.stop('SIGTERM');

    const notReady = await waitFor(async () => {
      const answer = await readyz(running);
      return answer.status === 503 ? answer : undefined;
    }, { what: 'readyz 503' });
    expect(notReady.json).toMatchObject({ status: 'not_ready', reason: expect.stringMatching(/shutting down/) });
    const refused = await waitFor(() => call(`${running.url}/api/whoami`).then(() => undefined, (error: NodeJS.ErrnoException) => error.code), { what: 'new connections to be refused' });
    expect(refused).toBe('ECONNREFUSED');

    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ provider: 'cobee', path: '/api/v3/whoami' });
    expect(await exited).toBe(0);
    expect(running.logs.find((line) => line.event === 'stopped')).toMatchObject({ outcome: 'drained', cutRequests: 0 });
  });

  it('a request longer than shutdownGrace is cut at the grace and the process still exits 0', async () => {
    const { api, running } = await setup('1s');
    api.injectApiFault({ fault: { kind: 'delay', ms: 20_000 }, times: 1 });
    const before = api.stats.apiRequests;
    const slow = call(`${running.url}/api/whoami`).then((answer) => `answered ${answer.status}`, () => 'cut');
    await waitFor(() => (api.stats.apiRequests > before ? true : undefined), { what: 'the slow request to reach the upstream' });
    const started = performance.now();
    expect(await running.stop('SIGTERM')).toBe(0);
    expect(performance.now() - started).toBeLessThan(8_000);
    expect(await slow).toBe('cut');
    expect(running.logs.find((line) => line.event === 'stopped')).toMatchObject({ outcome: 'grace', cutRequests: 1 });
  });

  it('regression: an open WebSocket is closed at shutdown instead of keeping the process alive for ever', async () => {
    const { running } = await setup('1s');
    const socket = new WebSocket(`${running.url.replace('http', 'ws')}/api/ws`);
    cleanup.add(socket, (open) => open.terminate());
    await once(socket, 'open');
    socket.send('ping');
    const [echo] = (await once(socket, 'message')) as [Buffer];
    expect(echo.toString()).toContain('ping');
    const closed = once(socket, 'close');
    const started = performance.now();
    expect(await running.stop('SIGTERM')).toBe(0);
    expect(performance.now() - started).toBeLessThan(6_000);
    await closed;
  });
});
