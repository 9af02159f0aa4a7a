// Failure classification against oidc-provider: invalid_client is terminal (502 token_rejected,
// no hammering), and a token endpoint that is down is transient (503 token_unavailable).
import { afterEach, describe, expect, it } from 'vitest';
import { call, Cleanup, fastConfig, sidecarError, startSidecar, waitFor } from '../faults/kit.js';
import { startProtectedApi } from './kit.js';
import { startOidcServer } from './oidc-server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const CLIENT = { client_id: 'svc', client_secret: 'svc-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };

describe('token endpoint failures against oidc-provider', () => {
  it('a wrong secret is invalid_client: 502 token_rejected on every call, one token request only', async () => {
    const oidc = cleanup.add(await startOidcServer({ clients: [CLIENT] }), (started) => started.close());
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: { provider: 'oauth2', upstream: api.url, tokenUrl: oidc.tokenUrl, credentials: { clientId: 'svc', clientSecret: 'not-the-secret' } } })),
      (started) => started.stop(),
    );
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const answer = await call(`${running.url}/api/x`);
      expect(answer.status).toBe(502);
      expect(sidecarError(answer)).toBe('token_rejected');
      expect(answer.text).not.toContain('not-the-secret');
    }
    expect(oidc.grantErrors).toEqual(['invalid_client']);
    expect(oidc.hits.length).toBe(1);
    expect(api.authorizations).toEqual([]);
  });

  it('the server down: 503 token_unavailable with Retry-After, classified as a connection failure (retried, not terminal)', async () => {
    const oidc = cleanup.add(await startOidcServer({ clients: [CLIENT] }), (started) => started.close());
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const tokenUrl = oidc.tokenUrl;
    await oidc.close();
    const running = cleanup.add(
      await startSidecar(fastConfig({ api: { provider: 'oauth2', upstream: api.url, tokenUrl, credentials: { clientId: 'svc', clientSecret: 'svc-secret' } } })),
      (started) => started.stop(),
    );
    const answer = await call(`${running.url}/api/x`);
    expect(answer.status).toBe(503);
    expect(sidecarError(answer)).toBe('token_unavailable');
    expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await waitFor(() => (running.logs.some((line) => line.event === 'token_refresh_failed' && line.reason === 'connection') ? true : undefined), { what: 'a connection failure in the log' });
  });
});
