import { createHash, createPrivateKey, createSecretKey, randomUUID, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { field } from './guards.js';
import type { CredentialValues } from './types.js';

/** RFC 7523 signing algorithms per method (what Okta, Entra ID, Auth0 and Keycloak accept). */
export const ASSERTION_ALGORITHMS = {
  private_key_jwt: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  client_secret_jwt: ['HS256'],
} as const;

/** An assertion lives long enough to cross the network once; servers refuse long-lived ones. */
export const ASSERTION_LIFETIME_SECONDS = 60;

export interface SigningKey {
  readonly key: KeyObject;
  readonly algorithm: string;
  readonly keyId: string | undefined;
  /** Thumbprints of the certificate registered for the key (Entra ID identifies the key by them). */
  readonly thumbprints: { readonly 'x5t': string; readonly 'x5t#S256': string } | undefined;
}

/** RFC 7515 §4.1.7/§4.1.8: base64url SHA-1 and SHA-256 of the certificate's DER. */
function thumbprints(certFile: string | undefined): SigningKey['thumbprints'] {
  if (certFile === undefined) return undefined;
  const der = new X509Certificate(readFileSync(certFile)).raw;
  return { x5t: createHash('sha1').update(der).digest('base64url'), 'x5t#S256': createHash('sha256').update(der).digest('base64url') };
}

/** The algorithm a key implies when the route names none. */
function defaultAlgorithm(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec':
      return 'ES256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign client assertions; use an RSA, EC P-256 or Ed25519 key`);
  }
}

/**
 * Reads `credentials.privateKey` (PEM, or a private JWK as JSON) and the algorithm to sign with.
 * Synchronous so config validation can name a broken key before the sidecar starts.
 */
export function readSigningKey(credentials: CredentialValues): SigningKey {
  const text = field(credentials, 'privateKey').trim();
  let jwkKid: string | undefined;
  let key: KeyObject;
  if (text.startsWith('{')) {
    let jwk: JsonWebKey & { kid?: string };
    try {
      jwk = JSON.parse(text) as JsonWebKey & { kid?: string };
    } catch {
      // JSON.parse quotes the input in its message: never let key material into an error.
      throw new Error('is not valid JSON');
    }
    if (jwk.d === undefined) throw new Error('is a public JWK; a private key (with "d") is needed to sign');
    jwkKid = jwk.kid;
    key = createPrivateKey({ key: jwk, format: 'jwk' });
  } else {
    key = createPrivateKey(text);
  }
  const algorithm = credentials.algorithm ?? defaultAlgorithm(key);
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`is an EC key on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}; ES256 needs P-256`);
  }
  return { key, algorithm, keyId: credentials.keyId ?? jwkKid, thumbprints: thumbprints(credentials.certFile) };
}

/**
 * A function that signs a fresh RFC 7523 client assertion at each call: iss = sub = client id,
 * aud = the token endpoint, a unique jti and a short exp.
 */
export function assertionSigner(method: 'client_secret_jwt' | 'private_key_jwt', credentials: CredentialValues, audience: string, now: () => number = Date.now): () => Promise<string> {
  const clientId = field(credentials, 'clientId');
  return async () => {
    // Read at send time: a key rotated into something unreadable fails this token request (and is retried), not the caller.
    const signing: SigningKey =
      method === 'private_key_jwt'
        ? readSigningKey(credentials)
        : { key: createSecretKey(Buffer.from(field(credentials, 'clientSecret'), 'utf8')), algorithm: credentials.algorithm ?? 'HS256', keyId: credentials.keyId, thumbprints: undefined };
    const issuedAt = Math.floor(now() / 1000);
    // jose loads with the first assertion: only routes with JWT client authentication need it.
    const { SignJWT } = await import('jose');
    return new SignJWT({})
      .setProtectedHeader({ alg: signing.algorithm, typ: 'JWT', ...(signing.keyId === undefined ? {} : { kid: signing.keyId }), ...signing.thumbprints })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .sign(signing.key);
  };
}
