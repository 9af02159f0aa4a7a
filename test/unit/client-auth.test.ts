// Client authentication building blocks: RFC 6749 §2.3.1 Basic encoding, RFC 7523 assertion
// claims, and the config checks that name the key to fix.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { validateConfig, type ConfigError } from '../../src/config/load.js';
import { basicAuthorization, clientAuthentication } from '../../src/providers/client-auth.js';
import { ASSERTION_LIFETIME_SECONDS, assertionSigner } from '../../src/providers/jwt-assertion.js';

const TOKEN_URL = 'https://login.example.test/oauth2/v1/token';

function decodeBasic(header: string): [string, string] {
  const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, '%20'));
  return [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))];
}

describe('client_secret_basic encoding (RFC 6749 §2.3.1)', () => {
  it('form-urlencodes id and secret before base64: a known vector', () => {
    // "a b" → "a+b", "ü:" → "%C3%BC%3A"
    expect(basicAuthorization('a b', 'ü:')).toBe(`Basic ${Buffer.from('a+b:%C3%BC%3A').toString('base64')}`);
  });

  it('a colon in the id or secret survives: the server splits at the only raw colon', () => {
    for (const [id, secret] of [['billing:svc', 's:e:c'], ['ünï', 'sëcret ☃+%&='], ['plain', 'plain']] as const) {
      expect(decodeBasic(basicAuthorization(id, secret))).toEqual([id, secret]);
      expect(Buffer.from(basicAuthorization(id, secret).slice(6), 'base64').toString().split(':').length).toBe(2);
    }
  });

  it('client_secret_basic puts nothing in the body; client_secret_post puts both there', () => {
    const credentials = { clientId: 'id', clientSecret: 'secret' };
    expect(clientAuthentication('client_secret_basic', credentials, TOKEN_URL)).toEqual({ fields: {}, headers: { authorization: basicAuthorization('id', 'secret') } });
    expect(clientAuthentication('client_secret_post', credentials, TOKEN_URL)).toEqual({ fields: { client_id: 'id', client_secret: 'secret' } });
    expect(clientAuthentication('tls_client_auth', credentials, TOKEN_URL)).toEqual({ fields: { client_id: 'id' } });
  });
});

describe('client assertions (RFC 7523)', () => {
  it('private_key_jwt: iss = sub = client id, aud = token endpoint, unique jti, exp 60 s after iat, kid in the header', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const now = 1_800_000_000_000;
    const sign = assertionSigner('private_key_jwt', { clientId: 'svc', privateKey: pem, keyId: 'k1' }, TOKEN_URL, () => now);
    const [first, second] = [await sign(), await sign()];
    const { payload } = await jwtVerify(first, publicKey, { currentDate: new Date(now) });
    expect(payload).toMatchObject({ iss: 'svc', sub: 'svc', aud: TOKEN_URL, iat: now / 1000, exp: now / 1000 + ASSERTION_LIFETIME_SECONDS });
    expect(decodeProtectedHeader(first)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'k1' });
    const again = await jwtVerify(second, publicKey, { currentDate: new Date(now) });
    expect(again.payload.jti).toEqual(expect.any(String));
    expect(again.payload.jti).not.toBe(payload.jti);
  });

  it('the algorithm follows the key (ES256 for P-256, EdDSA for Ed25519) unless set', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const pem = (key: typeof ec.privateKey) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(decodeProtectedHeader(await assertionSigner('private_key_jwt', { clientId: 'c', privateKey: pem(ec.privateKey) }, TOKEN_URL)()).alg).toBe('ES256');
    expect(decodeProtectedHeader(await assertionSigner('private_key_jwt', { clientId: 'c', privateKey: pem(ed.privateKey) }, TOKEN_URL)()).alg).toBe('EdDSA');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(decodeProtectedHeader(await assertionSigner('private_key_jwt', { clientId: 'c', privateKey: pem(rsa.privateKey), algorithm: 'PS256' }, TOKEN_URL)()).alg).toBe('PS256');
  });

  it('private_key_jwt with certFile: the certificate thumbprints go in the header as x5t and x5t#S256 (Entra ID)', async () => {
    const certFile = resolve(import.meta.dirname, '../conformance/fixtures/client1.pem');
    const privateKey = readFileSync(resolve(import.meta.dirname, '../conformance/fixtures/client1-key.pem'), 'utf8');
    const header = decodeProtectedHeader(await assertionSigner('private_key_jwt', { clientId: 'c', privateKey, certFile }, TOKEN_URL)());
    const hexToBase64url = (hex: string) => Buffer.from(hex.replace(/:/g, ''), 'hex').toString('base64url');
    const certificate = new X509Certificate(readFileSync(certFile));
    expect(header).toMatchObject({ alg: 'ES256', x5t: hexToBase64url(certificate.fingerprint), 'x5t#S256': hexToBase64url(certificate.fingerprint256) });
  });

  it('client_secret_jwt: HS256 with the secret; assertionAudience overrides aud (Auth0 wants its issuer)', async () => {
    const secret = 'a-client-secret-long-enough-for-hs256-0123456789';
    const token = await assertionSigner('client_secret_jwt', { clientId: 'svc', clientSecret: secret }, 'https://tenant.auth0.example/')();
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(secret));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ iss: 'svc', sub: 'svc', aud: 'https://tenant.auth0.example/' });
  });
});

describe('oauth2 route config', () => {
  const base = { provider: 'oauth2', upstream: 'https://api.example.test', tokenUrl: TOKEN_URL };
  const problems = (route: Record<string, unknown>) => {
    try {
      validateConfig({ routes: { api: { ...base, ...route } } });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('each method names the credential it lacks', () => {
    expect(problems({ clientAuth: 'private_key_jwt', credentials: { clientId: 'c' } })).toEqual(['routes.api.credentials.privateKey: is required for clientAuth private_key_jwt']);
    expect(problems({ clientAuth: 'tls_client_auth', credentials: { clientId: 'c' } })).toEqual([
      'routes.api.credentials.certFile: is required for clientAuth tls_client_auth',
      'routes.api.credentials.keyFile: is required for clientAuth tls_client_auth',
    ]);
    expect(problems({ credentials: { clientId: 'c' } })).toEqual(['routes.api.credentials.clientSecret: is required for clientAuth client_secret_basic']);
  });

  it('a broken key, a wrong algorithm, a bad resource and reserved tokenParams are config errors naming the key', () => {
    expect(problems({ clientAuth: 'private_key_jwt', credentials: { clientId: 'c', privateKey: 'not a key' } })[0]).toMatch(/^routes\.api\.credentials\.privateKey: .*expected a PEM private key or a private JWK/);
    // A broken JWK is named without quoting it (JSON.parse would echo the key material).
    const broken = problems({ clientAuth: 'private_key_jwt', credentials: { clientId: 'c', privateKey: '{"d":"SECRET-KEY-MATERIAL", oops}' } });
    expect(broken[0]).toMatch(/^routes\.api\.credentials\.privateKey: is not valid JSON/);
    expect(broken.join()).not.toContain('SECRET-KEY-MATERIAL');
    expect(problems({ clientAuth: 'client_secret_jwt', credentials: { clientId: 'c', clientSecret: 's', algorithm: 'RS256' } })).toEqual(['routes.api.credentials.algorithm: expected one of HS256 for client_secret_jwt']);
    expect(problems({ credentials: { clientId: 'c', clientSecret: 's', resource: ['https://ok.example/', 'not-a-uri'] } })[0]).toMatch(/^routes\.api\.credentials\.resource: each resource must be an absolute URI/);
    expect(problems({ tokenParams: { scope: 'x' }, credentials: { clientId: 'c', clientSecret: 's' } })[0]).toMatch(/^routes\.api\.tokenParams\.scope: is set by the sidecar/);
    expect(problems({ clientAuth: 'client_secret_basic', provider: 'light', credentials: { apiKey: 'k' } })[0]).toMatch(/^routes\.api\.clientAuth: applies only to provider oauth2/);
  });

  it('scope and resource lists become the request; tokenParams and the lists shape the cache key', () => {
    const config = validateConfig({ routes: { api: { ...base, tokenParams: { tenant: 't1' }, credentials: { clientId: 'c', clientSecret: 's', scope: ['a', 'b'], resource: ['https://r1.example/', 'https://r2.example/'] } } } });
    const route = config.routes[0];
    const request = route?.dialect.initialGrant(route.credentials.read(), { tokenUrl: TOKEN_URL, refreshUrl: TOKEN_URL });
    expect(request?.fields).toMatchObject({ grant_type: 'client_credentials', scope: 'a b', resource: ['https://r1.example/', 'https://r2.example/'], tenant: 't1' });
    expect(request?.url).toBe(TOKEN_URL);
  });

  it('the consent URL asks for scope, each resource and audience with state and an S256 challenge, and never carries a secret or tokenParams', () => {
    const config = validateConfig({
      routes: {
        api: {
          ...base,
          authorizeUrl: 'https://login.example.test/authorize',
          tokenParams: { hint: 'tp-value' },
          credentials: { clientId: 'c', clientSecret: 'the-secret', redirectUri: 'https://app.example/cb', scope: ['offline_access', 'read'], resource: ['https://r1.example/', 'https://r2.example/'], audience: 'https://api.example/' },
        },
      },
    });
    const route = config.routes[0];
    const url = new URL(route?.dialect.authorizationUrl?.(route.credentials.read(), { state: 'st', codeChallenge: 'ch' }) ?? '');
    expect(url.origin + url.pathname).toBe('https://login.example.test/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code', client_id: 'c', redirect_uri: 'https://app.example/cb', scope: 'offline_access read', resource: 'https://r2.example/', audience: 'https://api.example/', state: 'st', code_challenge: 'ch', code_challenge_method: 'S256',
    });
    expect(url.searchParams.getAll('resource')).toEqual(['https://r1.example/', 'https://r2.example/']);
    expect(url.href).not.toContain('the-secret');
    expect(url.href).not.toContain('tp-value');
    // A consent route never falls back to client_credentials.
    expect(route?.dialect.initialGrant(route.credentials.read(), { tokenUrl: TOKEN_URL, refreshUrl: TOKEN_URL })).toBeUndefined();
  });
});
