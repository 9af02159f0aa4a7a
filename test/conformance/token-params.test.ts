// Token parameters against oidc-provider: scope and RFC 8707 resource are honoured (introspection
// shows the token's scope and aud), each combination is its own token, and none of them goes in
// a URL or a log line.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call, Cleanup, fastConfig, sidecarError, startSidecar } from '../faults/kit.js';
import { introspect, startProtectedApi } from './kit.js';
import { API_RESOURCE, OTHER_RESOURCE, startOidcServer, type OidcServer } from './oidc-server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const CLIENT = { id: 'reports', secret: 'reports-secret' };
const INTROSPECTOR = { id: 'introspector', secret: 'introspector-secret' };

async function server(): Promise<OidcServer> {
  return cleanup.add(
    await startOidcServer({
      clients: [
        { client_id: CLIENT.id, client_secret: CLIENT.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api:read api:write other:read' },
        { client_id: INTROSPECTOR.id, client_secret: INTROSPECTOR.secret, grant_types: [], response_types: [], redirect_uris: [] },
      ],
    }),
    (started) => started.close(),
  );
}

function route(upstream: string, tokenUrl: string, credentials: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { provider: 'oauth2', upstream, tokenUrl, ...extra, credentials: { clientId: CLIENT.id, clientSecret: CLIENT.secret, ...credentials } };
}

const bearer = (header: string | undefined) => (header ?? '').replace(/^Bearer /, '');

describe('scope, resource, audience and tokenParams against oidc-provider', () => {
  it('scope (a list) and resource are honoured: introspection shows that scope and aud = the resource', async () => {
    const oidc = await server();
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const running = cleanup.add(await startSidecar(fastConfig({ api: route(api.url, oidc.tokenUrl, { scope: ['api:read'], resource: API_RESOURCE }) })), (started) => started.stop());
    expect((await call(`${running.url}/api/x`)).status).toBe(200);
    const token = await introspect(oidc, bearer(api.authorizations[0]), INTROSPECTOR);
    expect(token).toMatchObject({ active: true, client_id: CLIENT.id, scope: 'api:read', aud: API_RESOURCE });
  });

  it('each combination of scope/resource/tokenParams is its own token; audience and tokenParams reach the body, never the URL, a log or a store key', async () => {
    const oidc = await server();
    const dir = cleanup.add(await mkdtemp(join(tmpdir(), 'oauth2-params-')), (created) => rm(created, { recursive: true, force: true }));
    const stateFile = join(dir, 'state.json');
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const running = cleanup.add(
      await startSidecar(
        fastConfig({
          read: route(api.url, oidc.tokenUrl, { scope: 'api:read', resource: API_RESOURCE }),
          write: route(api.url, oidc.tokenUrl, { scope: 'api:write', resource: API_RESOURCE }),
          other: route(api.url, oidc.tokenUrl, { scope: 'other:read', resource: OTHER_RESOURCE, audience: 'aud-value-7d1f' }),
          tagged: route(api.url, oidc.tokenUrl, { scope: 'other:read', resource: OTHER_RESOURCE, audience: 'aud-value-7d1f' }, { tokenParams: { tenant_hint: 'param-value-93ab' } }),
        }, { store: { type: 'file', path: stateFile } }),
      ),
      (started) => started.stop(),
    );
    for (const name of ['read', 'write', 'other', 'tagged', 'read', 'tagged']) expect((await call(`${running.url}/${name}/x`)).status).toBe(200);

    // Four combinations, four token requests, and the repeats were cache hits.
    expect(oidc.hits.length).toBe(4);
    const seen = await Promise.all(api.authorizations.slice(0, 4).map((header) => introspect(oidc, bearer(header), INTROSPECTOR)));
    expect(seen.map((token) => [token.scope, token.aud])).toEqual([
      ['api:read', API_RESOURCE],
      ['api:write', API_RESOURCE],
      ['other:read', OTHER_RESOURCE],
      ['other:read', OTHER_RESOURCE],
    ]);
    expect(new Set(api.authorizations.slice(0, 4)).size).toBe(4);
    expect(oidc.hits[2]?.fields).toMatchObject({ audience: 'aud-value-7d1f' });
    expect(oidc.hits[3]?.fields).toMatchObject({ audience: 'aud-value-7d1f', tenant_hint: 'param-value-93ab' });
    for (const hit of oidc.hits) expect(hit.url).toBe('/token');
    for (const value of ['aud-value-7d1f', 'param-value-93ab', API_RESOURCE, OTHER_RESOURCE, 'api:write']) expect(running.output()).not.toContain(value);
    const stored = await readFile(stateFile, 'utf8');
    expect(Object.keys(JSON.parse(stored) as object)).toHaveLength(4);
    expect(stored).not.toContain('param-value-93ab');
  });

  it('two resources are sent as two resource fields (oidc-provider allows one per client_credentials token: invalid_target is terminal)', async () => {
    const oidc = await server();
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const running = cleanup.add(await startSidecar(fastConfig({ api: route(api.url, oidc.tokenUrl, { resource: [API_RESOURCE, OTHER_RESOURCE] }) })), (started) => started.stop());
    const answer = await call(`${running.url}/api/x`);
    expect(oidc.hits[0]?.fields.resource).toEqual([API_RESOURCE, OTHER_RESOURCE]);
    expect(oidc.grantErrors).toContain('invalid_target');
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('token_rejected');
  });

  it('no scope at all is valid: the server applies its default', async () => {
    const oidc = await server();
    const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
    const running = cleanup.add(await startSidecar(fastConfig({ api: route(api.url, oidc.tokenUrl, {}) })), (started) => started.stop());
    expect((await call(`${running.url}/api/x`)).status).toBe(200);
    expect(oidc.hits[0]?.fields).not.toHaveProperty('scope');
    expect(oidc.hits[0]?.fields).not.toHaveProperty('resource');
  });
});
