// Refresh-token grants against oidc-provider with rotateRefreshToken: true. A replayed refresh
// token is answered invalid_grant and revokes the whole grant, so one replay under load would
// show as an error here and as a dead route.
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { call, Cleanup, fastConfig, sidecarError, startSidecar, waitFor } from '../faults/kit.js';
import { startProtectedApi } from './kit.js';
import { APP_CLIENT, APP_CREDENTIALS, firstRefreshToken, refreshOnce } from './consent-client.js';
import { API_RESOURCE, startOidcServer } from './oidc-server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('refresh-token grant with rotation against oidc-provider', () => {
  it('10 rotations under concurrent load through the sidecar: every request 200, no refresh token used twice, no invalid_grant', async () => {
    // 2 s access tokens refreshed when 90% of the lifetime is left: a rotation every ~0.2 s.
    const oidc = cleanup.add(await startOidcServer({ clients: [APP_CLIENT], accessTokenTtlSeconds: 2 }), (started) => started.close());
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const bootstrap = await firstRefreshToken(oidc);
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: { provider: 'oauth2', upstream: api.url, tokenUrl: oidc.tokenUrl, credentials: { ...APP_CREDENTIALS, refreshToken: bootstrap } } }, { refresh: { ahead: 0.9 } })),
      (started) => started.stop(),
    );
    const agent = cleanup.add(new Agent({ connections: 16 }), (created) => created.close());
    const statuses: number[] = [];
    let rotating = true;
    const worker = async () => {
      while (rotating) statuses.push((await call(`${running.url}/api/x`, { dispatcher: agent })).status);
    };
    const workers = Array.from({ length: 8 }, () => worker());
    await waitFor(() => (oidc.refreshTokensUsed.length >= 11 ? true : undefined), { timeoutMs: 20_000, what: '10 rotations after the bootstrap refresh' });
    rotating = false;
    await Promise.all(workers);

    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(oidc.refreshTokensUsed[0]).toBe(bootstrap);
    expect(new Set(oidc.refreshTokensUsed).size).toBe(oidc.refreshTokensUsed.length);
    expect(oidc.grantErrors).toEqual([]);
    // Never a client_credentials fallback: every token is the user's.
    expect(oidc.hits.filter((hit) => hit.grantType === 'client_credentials')).toEqual([]);
    const last = await call(`${running.url}/api/x`);
    expect(last.json).toMatchObject({ sub: 'user-1', aud: API_RESOURCE, scope: 'api:read' });
  });

  it('a refresh token the server has revoked is terminal: 502 token_rejected, and no client_credentials fallback', async () => {
    const oidc = cleanup.add(await startOidcServer({ clients: [APP_CLIENT] }), (started) => started.close());
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const bootstrap = await firstRefreshToken(oidc);
    // Spend it once outside the sidecar: the sidecar's use is a replay, which revokes the grant.
    expect(await refreshOnce(oidc, bootstrap)).toBe(200);
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: { provider: 'oauth2', upstream: api.url, tokenUrl: oidc.tokenUrl, credentials: { ...APP_CREDENTIALS, refreshToken: bootstrap } } })),
      (started) => started.stop(),
    );
    const answer = await call(`${running.url}/api/x`);
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('token_rejected');
    expect(oidc.grantErrors).toContain('invalid_grant');
    expect(oidc.hits.filter((hit) => hit.grantType === 'client_credentials')).toEqual([]);
  });
});
