// What the conformance tests share besides the server: a protected API that accepts only live
// tokens of that server, RFC 7662 introspection, and a browser-less consent that yields a real code.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { basicAuthorization } from '../../src/providers/client-auth.js';
import type { OidcServer } from './oidc-server.js';

export interface ProtectedApi {
  readonly url: string;
  /** Every Authorization header it received. */
  readonly authorizations: string[];
  /** From now on, answer 401 to every token seen so far (as if they were revoked). */
  revokeSeen(): void;
  close(): Promise<void>;
}

/**
 * An API that answers 200 with who the token is for, only for a live access token of `server`
 * (looked up in the provider's own store), and 401 otherwise.
 */
export async function startProtectedApi(server: OidcServer): Promise<ProtectedApi> {
  const authorizations: string[] = [];
  const revoked = new Set<string>();
  const { provider } = server;
  const http: Server = createServer((req, res) => {
    void (async () => {
      const header = req.headers.authorization ?? '';
      authorizations.push(header);
      const value = header.startsWith('Bearer ') ? header.slice(7) : '';
      const token = value ? ((await provider.ClientCredentials.find(value)) ?? (await provider.AccessToken.find(value))) : undefined;
      if (!token || token.isExpired || revoked.has(header)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
        return;
      }
      const body = JSON.stringify({ client_id: token.clientId, scope: token.scope, aud: token.aud, sub: (token as { accountId?: string }).accountId, path: req.url });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    })();
  });
  await new Promise<void>((resolveListen) => http.listen(0, '127.0.0.1', resolveListen));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    authorizations,
    revokeSeen: () => authorizations.forEach((seen) => revoked.add(seen)),
    close: () => new Promise<void>((resolveClose) => {
      http.closeAllConnections();
      http.close(() => resolveClose());
    }),
  };
}

/** RFC 7662 introspection of `token` by a client_secret_basic client of the same server. */
export async function introspect(server: OidcServer, token: string, client: { id: string; secret: string }): Promise<Record<string, unknown>> {
  const res = await request(server.introspectionUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(client.id, client.secret) },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.body.json()) as Record<string, unknown>;
}

/**
 * Follows an authorization URL as a browser would (cookies included) through the server's
 * scripted consent, and returns the address it finally redirects to (the app's redirect_uri).
 */
export async function consentRedirect(authorizationUrl: string, redirectUri: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = authorizationUrl;
  for (let hop = 0; hop < 10; hop += 1) {
    const res = await request(url, { method: 'GET', headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } });
    await res.body.text();
    const setCookie = res.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(';');
      const index = (pair as string).indexOf('=');
      cookies.set((pair as string).slice(0, index), (pair as string).slice(index + 1));
    }
    const location = res.headers.location;
    if (typeof location !== 'string') throw new Error(`consent stopped at ${url} with ${res.statusCode}`);
    const next = new URL(location, url);
    if (next.href.startsWith(redirectUri)) return next;
    url = next.href;
  }
  throw new Error('consent did not reach the redirect_uri in 10 hops');
}
