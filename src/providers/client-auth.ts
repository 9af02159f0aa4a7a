import { field } from './guards.js';
import { assertionSigner } from './jwt-assertion.js';
import type { CredentialValues, TokenHttpRequest } from './types.js';

/** How a client proves who it is to the token endpoint (RFC 6749 §2.3, RFC 7523, RFC 8705). */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'tls_client_auth'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** The credential fields each method needs (checked in config/schema.ts, so the message names the key). */
export const REQUIRED_FIELDS: Readonly<Record<ClientAuthMethod, readonly string[]>> = {
  client_secret_basic: ['clientSecret'],
  client_secret_post: ['clientSecret'],
  client_secret_jwt: ['clientSecret'],
  private_key_jwt: ['privateKey'],
  tls_client_auth: ['certFile', 'keyFile'],
};

/** application/x-www-form-urlencoded, as RFC 6749 Appendix B says (space as `+`). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded *before* base64, so `:` and non-ASCII survive. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

type Authentication = Pick<TokenHttpRequest, 'headers' | 'signedFields'> & { readonly fields: Readonly<Record<string, string>> };

/**
 * The part of a token request that authenticates the client, for one method. The strategy every
 * form dialect shares: the grant builds its own fields and spreads these in.
 */
export function clientAuthentication(method: ClientAuthMethod, credentials: CredentialValues, tokenUrl: string): Authentication {
  const clientId = field(credentials, 'clientId');
  switch (method) {
    case 'client_secret_basic':
      return { fields: {}, headers: { authorization: basicAuthorization(clientId, field(credentials, 'clientSecret')) } };
    case 'client_secret_post':
      return { fields: { client_id: clientId, client_secret: field(credentials, 'clientSecret') } };
    case 'client_secret_jwt':
    case 'private_key_jwt': {
      const sign = assertionSigner(method, credentials, credentials.assertionAudience ?? tokenUrl);
      return {
        fields: { client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' },
        signedFields: async () => ({ client_assertion: await sign() }),
      };
    }
    case 'tls_client_auth':
      // The certificate is presented in the TLS handshake (proxy/pools.ts); RFC 8705 §2 needs client_id in the body.
      return { fields: { client_id: clientId } };
  }
}
