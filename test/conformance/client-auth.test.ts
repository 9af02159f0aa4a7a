// Client authentication conformance: for each method, a client registered for that method only,
// on an oidc-provider that offers only that method, gets a token through the sidecar, and the
// protected API accepts it. The sidecar is the built CLI.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClientAuthMethod, ClientMetadata } from 'oidc-provider';
import { afterEach, describe, expect, it } from 'vitest';
import { call, Cleanup, fastConfig, sidecarError, startSidecar } from '../faults/kit.js';
import { startProtectedApi } from './kit.js';
import { CONFORMANCE_FIXTURES, SERVER_CA_FILE, startOidcServer, type OidcServer } from './oidc-server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/**
 * An id and a secret with `:`, `+`, `%`, `&` and a space: RFC 6749 §2.3.1 must form-encode them
 * before base64 (oidc-provider, like the RFC's VSCHAR, allows only printable ASCII in secrets;
 * non-ASCII is covered by test/unit/client-auth.test.ts).
 */
const AWKWARD_ID = 'billing:svc+1';
const AWKWARD_SECRET = 'p@ss:w+%20 rd/=&x';
const HS_SECRET = 'a-client-secret-long-enough-for-hs256-0123456789';

async function serverFor(method: ClientAuthMethod, client: Partial<ClientMetadata> & { client_id: string }, tls = false): Promise<OidcServer> {
  return cleanup.add(
    await startOidcServer({
      tls,
      clientAuthMethods: [method],
      clients: [{ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api:read', token_endpoint_auth_method: method, ...client }],
    }),
    (started) => started.close(),
  );
}

async function throughSidecar(server: OidcServer, route: Record<string, unknown>) {
  const api = cleanup.add(await startProtectedApi(server), (started) => started.close());
  const running = cleanup.add(
    await startSidecar(fastConfig({ api: { provider: 'oauth2', upstream: api.url, tokenUrl: server.tokenUrl, ...route } })),
    (started) => started.stop(),
  );
  return { api, running, answer: await call(`${running.url}/api/whoami`) };
}

async function tempDir(): Promise<string> {
  return cleanup.add(await mkdtemp(join(tmpdir(), 'oauth2-keys-')), (dir) => rm(dir, { recursive: true, force: true }));
}

describe('client authentication against oidc-provider, one method per server', () => {
  it('client_secret_basic (the default): a basic-only server gives a token; the secret used to go in the body and was answered invalid_client', async () => {
    const server = await serverFor('client_secret_basic', { client_id: AWKWARD_ID, client_secret: AWKWARD_SECRET });
    const { answer } = await throughSidecar(server, { credentials: { clientId: AWKWARD_ID, clientSecret: AWKWARD_SECRET } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ client_id: AWKWARD_ID });
    const hit = server.hits[0];
    expect(hit?.authorization).toMatch(/^Basic /);
    expect(hit?.fields).not.toHaveProperty('client_secret');
  });

  it('client_secret_post: id and secret in the form body, no Authorization header', async () => {
    const server = await serverFor('client_secret_post', { client_id: 'post-client', client_secret: AWKWARD_SECRET });
    const { answer } = await throughSidecar(server, { clientAuth: 'client_secret_post', credentials: { clientId: 'post-client', clientSecret: AWKWARD_SECRET } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ client_id: 'post-client' });
    expect(server.hits[0]?.authorization).toBeUndefined();
    expect(server.hits[0]?.fields).toMatchObject({ client_id: 'post-client', client_secret: AWKWARD_SECRET });
  });

  it('client_secret_jwt: an HS256 assertion signed with the secret, a fresh one per token request', async () => {
    const server = await serverFor('client_secret_jwt', { client_id: 'hs-client', client_secret: HS_SECRET });
    const { answer } = await throughSidecar(server, { clientAuth: 'client_secret_jwt', credentials: { clientId: 'hs-client', clientSecret: HS_SECRET } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ client_id: 'hs-client' });
    expect(server.hits[0]?.fields).toMatchObject({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
    expect(server.hits[0]?.fields).not.toHaveProperty('client_secret');
    expect(server.hits[0]?.authorization).toBeUndefined();
  });

  const keyTypes: Array<{ algorithm: string; key: () => { privateKey: KeyObject; publicKey: KeyObject } }> = [
    { algorithm: 'RS256', key: () => generateKeyPairSync('rsa', { modulusLength: 2048 }) },
    { algorithm: 'PS256', key: () => generateKeyPairSync('rsa', { modulusLength: 2048 }) },
    { algorithm: 'ES256', key: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
    { algorithm: 'EdDSA', key: () => generateKeyPairSync('ed25519') },
  ];
  for (const { algorithm, key } of keyTypes) {
    it(`private_key_jwt with ${algorithm}: the key from \${file:} as PEM, the server verifies with the registered JWK`, async () => {
      const { privateKey, publicKey } = key();
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: `key-${algorithm}`, alg: algorithm, use: 'sig' };
      const server = await serverFor('private_key_jwt', { client_id: `pk-${algorithm}`, jwks: { keys: [jwk] }, token_endpoint_auth_signing_alg: algorithm as ClientMetadata['token_endpoint_auth_signing_alg'] });
      const dir = await tempDir();
      await writeFile(join(dir, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
      const { answer } = await throughSidecar(server, {
        clientAuth: 'private_key_jwt',
        credentials: { clientId: `pk-${algorithm}`, privateKey: `\${file:${join(dir, 'key.pem')}}`, keyId: `key-${algorithm}`, ...(algorithm === 'PS256' ? { algorithm } : {}) },
      });
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ client_id: `pk-${algorithm}` });
    });
  }

  it('private_key_jwt with the key as a private JWK (its kid goes in the header)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const server = await serverFor('private_key_jwt', { client_id: 'pk-jwk', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'jwk-1' }] } });
    const dir = await tempDir();
    await writeFile(join(dir, 'key.json'), JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'jwk-1' }));
    const { answer } = await throughSidecar(server, { clientAuth: 'private_key_jwt', credentials: { clientId: 'pk-jwk', privateKey: `\${file:${join(dir, 'key.json')}}` } });
    expect(answer.status).toBe(200);
  });

  it('tls_client_auth: the client certificate in the handshake, and a rotated pair is used from the next token fetch', async () => {
    const server = await serverFor('tls_client_auth', { client_id: 'mtls-client', tls_client_auth_subject_dn: 'CN=mtls-client' }, true);
    const dir = await tempDir();
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await copyFile(resolve(CONFORMANCE_FIXTURES, 'client1.pem'), certFile);
    await copyFile(resolve(CONFORMANCE_FIXTURES, 'client1-key.pem'), keyFile);
    const { answer, running, api } = await throughSidecar(server, { clientAuth: 'tls_client_auth', caFile: SERVER_CA_FILE, credentials: { clientId: 'mtls-client', certFile, keyFile } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ client_id: 'mtls-client' });
    const first = server.hits[0]?.certificate;
    expect(first).toBeDefined();

    // cert-manager writes the new pair in place; an upstream 401 makes the sidecar fetch again.
    await copyFile(resolve(CONFORMANCE_FIXTURES, 'client2.pem'), certFile);
    await copyFile(resolve(CONFORMANCE_FIXTURES, 'client2-key.pem'), keyFile);
    api.revokeSeen();
    const again = await call(`${running.url}/api/whoami`);
    expect(again.status).toBe(200);
    expect(server.hits.length).toBe(2);
    expect(server.hits[1]?.certificate).toBeDefined();
    expect(server.hits[1]?.certificate).not.toBe(first);
  });

  it('a method the server does not offer is terminal: 502 token_rejected, no retry storm', async () => {
    const server = await serverFor('client_secret_basic', { client_id: 'basic-only', client_secret: 'basic-only-secret' });
    const { answer } = await throughSidecar(server, { clientAuth: 'client_secret_post', credentials: { clientId: 'basic-only', clientSecret: 'basic-only-secret' } });
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('token_rejected');
    expect(server.hits.length).toBe(1);
  });
});
