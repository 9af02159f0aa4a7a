// A real OAuth 2.0 server for the conformance suite: panva's oidc-provider on 127.0.0.1 port 0
// (HTTPS with client certificates for tls_client_auth), with the features the suite exercises,
// and a scripted consent (a Grant saved by the test, no login page) for the authorization code flow.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { resolve } from 'node:path';
import Provider, { errors, type ClientAuthMethod, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';

const TLS_FIXTURES = resolve(import.meta.dirname, '../fixtures/tls');
export const CONFORMANCE_FIXTURES = resolve(import.meta.dirname, 'fixtures');
/** The CA the sidecar trusts for the HTTPS server (route `caFile`). */
export const SERVER_CA_FILE = resolve(TLS_FIXTURES, 'ca.pem');

/** The protected API the tests name in `resource`; its scopes are what a token for it may carry. */
export const API_RESOURCE = 'https://api.example.test/';
export const OTHER_RESOURCE = 'https://other.example.test/';
const RESOURCE_SERVERS: Record<string, string> = { [API_RESOURCE]: 'api:read api:write', [OTHER_RESOURCE]: 'other:read' };

export interface TokenEndpointHit {
  readonly url: string;
  readonly grantType: string | undefined;
  readonly fields: Readonly<Record<string, string | string[]>>;
  readonly authorization: string | undefined;
  /** SHA-256 fingerprint of the client certificate of the connection, if any. */
  readonly certificate: string | undefined;
}

export interface OidcServerOptions {
  readonly clients: ClientMetadata[];
  /** What the server offers at all: "a server that offers only that method" is this list of one. */
  readonly clientAuthMethods?: ClientAuthMethod[];
  /** HTTPS, requesting a client certificate (trusted: fixtures/client-ca.pem), with RFC 8705 tls_client_auth. */
  readonly tls?: boolean;
  readonly accessTokenTtlSeconds?: number;
}

export interface OidcServer {
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly authorizeUrl: string;
  readonly introspectionUrl: string;
  readonly provider: Provider;
  /** Every token-endpoint request, in order (fields parsed from the form body). */
  readonly hits: TokenEndpointHit[];
  /** OAuth error codes the token endpoint answered (`invalid_grant` on a replayed refresh token). */
  readonly grantErrors: string[];
  /** Refresh tokens seen in refresh_token grants: a replay is one seen twice. */
  readonly refreshTokensUsed: string[];
  close(): Promise<void>;
}

/** The PEM of the client certificate of an mTLS connection. */
function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  const raw = socket.getPeerCertificate?.(false)?.raw;
  return raw && raw.length > 0 ? new X509Certificate(raw) : undefined;
}

function readForm(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function formFields(body: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const previous = fields[name];
    fields[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return fields;
}

/** Consent as a user would give it: every requested scope, for every requested resource. */
async function scriptedConsent(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const params = details.params as Record<string, string | string[] | undefined>;
  const accountId = 'user-1';
  const grant = new provider.Grant({ accountId, clientId: String(params.client_id) });
  const scope = String(params.scope ?? '');
  grant.addOIDCScope(scope);
  const resources = params.resource === undefined ? [] : Array.isArray(params.resource) ? params.resource : [params.resource];
  for (const resource of resources) grant.addResourceScope(resource, scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

export async function startOidcServer(options: OidcServerOptions): Promise<OidcServer> {
  const hits: TokenEndpointHit[] = [];
  const grantErrors: string[] = [];
  const refreshTokensUsed: string[] = [];
  // Known only once the port is: the issuer names it.
  const live: { provider?: Provider; handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const active = live.provider as Provider;
      if (req.url?.startsWith('/interaction/')) return scriptedConsent(active, req, res);
      if (req.method === 'POST' && new URL(req.url ?? '/', 'http://127.0.0.1').pathname === '/token') {
        // Record what arrived, then hand the same bytes to the provider.
        const body = await readForm(req);
        const fields = formFields(body);
        const cert = peerCertificate(req.socket as TLSSocket);
        hits.push({ url: req.url ?? '', grantType: fields.grant_type as string | undefined, fields, authorization: req.headers.authorization, certificate: cert?.fingerprint256 });
        if (fields.grant_type === 'refresh_token') refreshTokensUsed.push(String(fields.refresh_token));
        // The provider parses this string itself (repeated fields such as resource become lists).
        (req as IncomingMessage & { body?: unknown }).body = body;
      }
      live.handler?.(req, res);
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  };

  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: readFileSync(resolve(TLS_FIXTURES, 'server.pem')),
          key: readFileSync(resolve(TLS_FIXTURES, 'server-key.pem')),
          ca: readFileSync(resolve(CONFORMANCE_FIXTURES, 'client-ca.pem')),
          requestCert: true,
          rejectUnauthorized: false,
        },
        listener,
      )
    : createHttpServer(listener);
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ttl = options.accessTokenTtlSeconds ?? 300;

  const provider = new Provider(issuer, {
    clients: options.clients,
    ...(options.clientAuthMethods ? { clientAuthMethods: options.clientAuthMethods } : {}),
    cookies: { keys: ['conformance-only-cookie-key'] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Refresh tokens for every client allowed the grant, without the OIDC offline_access dance.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    scopes: ['openid', 'offline_access', 'api:read', 'api:write', 'other:read'],
    ttl: { AccessToken: ttl, ClientCredentials: ttl, RefreshToken: 24 * 3600, Grant: 24 * 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          const scope = RESOURCE_SERVERS[indicator];
          if (scope === undefined) throw new errors.InvalidTarget();
          return { scope, audience: indicator, accessTokenTTL: ttl, accessTokenFormat: 'opaque' };
        },
      },
      ...(options.tls
        ? {
            mTLS: {
              enabled: true,
              tlsClientAuth: true,
              getCertificate: (ctx: KoaContextWithOIDC) => peerCertificate(ctx.socket as TLSSocket)?.toString(),
              certificateAuthorized: (ctx: KoaContextWithOIDC) => (ctx.socket as TLSSocket).authorized,
              certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) =>
                property === 'tls_client_auth_subject_dn' && peerCertificate(ctx.socket as TLSSocket)?.subject.replace(/\n/g, ',') === expected,
            },
          }
        : {}),
    },
  });
  provider.on('grant.error', (_ctx: unknown, error: { error?: string }) => grantErrors.push(error.error ?? 'unknown'));
  provider.on('server_error', (_ctx: unknown, error: Error) => grantErrors.push(`server_error: ${error.message}`));
  live.provider = provider;
  live.handler = provider.callback();

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    authorizeUrl: `${issuer}/auth`,
    introspectionUrl: `${issuer}/token/introspection`,
    provider,
    hits,
    grantErrors,
    refreshTokensUsed,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
