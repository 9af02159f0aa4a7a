// Secret rotation the way Kubernetes does it: a Secret volume holds timestamped directories, a
// `..data` symlink to the current one, and each key as a symlink into `..data`; an update writes
// a new directory and swaps `..data` atomically (rename of a symlink).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, startEmulator } from '../../src/emulators/index.js';
import { secretVolume } from '../support/secret-volume.js';
import { call, Cleanup, fastConfig, readyz, routeFor, sidecarError, startSidecar, waitForRouteState, waitForStatus } from './kit.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('secret rotation', () => {
  it('a rejected secret replaced through the ..data symlink swap is retried at once, and requests succeed', async () => {
    const api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
    const volume = cleanup.add(await secretVolume({ clientSecret: 'not-the-right-secret\n' }), (created) => created.remove());
    // rejectedRetry is an hour: only the file change can bring the route back within the test.
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: routeFor(api, { credentials: { clientSecret: `\${file:${volume.path('clientSecret')}}` } }) }, { refresh: { rejectedRetry: '1h' } })),
      (started) => started.stop(),
    );
    await waitForRouteState(running, 'rejected');
    const rejected = await call(`${running.url}/api/whoami`);
    expect(rejected.status).toBe(502);
    expect(sidecarError(rejected)).toBe('token_rejected');
    expect(api.stats.tokenRequests).toBe(1);

    await volume.update({ clientSecret: `${DEMO_CLIENTS.cobee.clientSecret}\n` });
    const answer = await waitForStatus(`${running.url}/api/whoami`, 200, 'the rotated secret to be used', 10_000);
    expect(answer.json).toMatchObject({ clientId: DEMO_CLIENTS.cobee.clientId });
    expect((await readyz(running)).status).toBe(200);
    // One rejected fetch at startup, one with the new secret: nothing in between.
    expect(api.stats.tokenRequests).toBe(2);
    expect(running.logs.some((line) => line.event === 'secret_changed' && line.route === 'api')).toBe(true);
  });

  it('a secret file that vanishes mid-swap keeps the last good value', async () => {
    const api = cleanup.add(await startEmulator('covver'), (started) => started.close());
    const volume = cleanup.add(await secretVolume({ clientSecret: DEMO_CLIENTS.covver.clientSecret }), (created) => created.remove());
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: routeFor(api, { credentials: { clientSecret: `\${file:${volume.path('clientSecret')}}` } }) })),
      (started) => started.stop(),
    );
    await waitForStatus(`${running.url}/api/whoami`);
    await rm(join(volume.root, '..data'));
    api.expireAllAccessTokens();
    // The refresh token grant needs no secret; force the client-credentials grant with a 401 on refresh.
    api.injectTokenFault({ fault: { kind: 'status', status: 401 }, times: 1 });
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
  });
});
