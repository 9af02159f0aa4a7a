import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { serveApi, type ApiContext } from './api.js';
import { rateLimiterFor } from './api-ratelimit.js';
import type { ProviderDescriptionInput } from '../config/provider-description.js';
import { describedEmulatorDialect, parseDescription } from './described.js';
import type { Dialect } from './dialect.js';
import { DIALECTS } from './dialects.js';
import { FaultSlot } from './fault-slot.js';
import { pathOf, sendJson } from './http.js';
import { Lifecycle, listen } from './lifecycle.js';
import { checkLifetime, resolveOptions } from './options.js';
import { createStats, resetStats } from './stats.js';
import { serveToken, type TokenEndpointContext } from './token-endpoint.js';
import { TokenStore } from './tokens.js';
import type { ApiFault, EmulatedProvider, Emulator, EmulatorOptions, TokenFault } from './types.js';
import { refuseUpgrade, WebSocketEcho } from './websocket.js';

/** Starts one provider's emulator: token endpoint(s) and protected API on one origin. */
export async function startEmulator(provider: EmulatedProvider, options: EmulatorOptions = {}): Promise<Emulator> {
  const dialect = Object.hasOwn(DIALECTS, provider) ? DIALECTS[provider] : undefined;
  if (dialect === undefined) throw new TypeError(`unknown provider ${String(provider)}`);
  return startDialect(dialect, options) as Promise<Emulator>;
}

/**
 * The emulator of a provider described as data (a config's `providers.<name>`, as parsed YAML or
 * validated): its token paths, encoding, field names and token header come from the description.
 */
export async function startDescribedEmulator(name: string, description: ProviderDescriptionInput, options: EmulatorOptions = {}): Promise<Emulator<string>> {
  return startDialect(describedEmulatorDialect(name, parseDescription(description)), options);
}

async function startDialect(dialect: Dialect, options: EmulatorOptions): Promise<Emulator<string>> {
  const { provider } = dialect;
  const resolved = resolveOptions(dialect, options);
  const stats = createStats();
  const lifecycle = new Lifecycle();
  const store = new TokenStore({
    provider,
    now: resolved.now,
    lifetimeSeconds: resolved.lifetimeSeconds,
    refreshPolicy: dialect.refreshPolicy,
    onReplay: () => (stats.refreshReplays += 1),
    ...(dialect.refreshLifetimeSeconds === undefined ? {} : { refreshLifetimeSeconds: dialect.refreshLifetimeSeconds }),
  });
  const tokenContext: TokenEndpointContext = {
    dialect,
    stats,
    faults: new FaultSlot<TokenFault>(),
    lifecycle,
    omitExpiresIn: resolved.omitExpiresIn,
    grants: { store, clients: resolved.clients, onIssued: () => (stats.issuedTokens += 1) },
  };
  const apiContext: ApiContext = {
    provider,
    stats,
    store,
    apiKeys: resolved.apiKeys,
    sends: dialect.apiCredential,
    faults: new FaultSlot<ApiFault>(),
    lifecycle,
    rateLimiter: rateLimiterFor(provider, resolved.now, options.rateLimit),
  };
  const webSocket = new WebSocketEcho(apiContext);

  /** The path below the API base, or undefined if the path is not the API's. */
  const apiSubPath = (path: string): string | undefined => {
    if (path === dialect.tokenPath || path === dialect.refreshPath) return undefined;
    if (dialect.apiBase === '') return path;
    if (path === dialect.apiBase || path.startsWith(`${dialect.apiBase}/`)) return path.slice(dialect.apiBase.length);
    return undefined;
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    if (path === dialect.tokenPath || path === dialect.refreshPath) return serveToken(req, res, tokenContext);
    const subPath = apiSubPath(path);
    if (subPath !== undefined) return serveApi(req, res, subPath, apiContext);
    req.resume();
    sendJson(res, 404, { message: 'Not Found' });
  }

  async function routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = pathOf(req);
    if (apiSubPath(path) === '/ws') return webSocket.upgrade(req, socket, head);
    refuseUpgrade(socket, 404, { message: 'Not Found' });
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // Never crash, never log: a failure after the answer started just drops the connection.
    route(req, res).catch(() => {
      try {
        if (res.headersSent || lifecycle.closed) res.destroy();
        else sendJson(res, 500, { message: 'Internal emulator error' });
      } catch {
        res.destroy();
      }
    });
  };
  const server: Server = resolved.tls ? createHttpsServer(resolved.tls, onRequest) : createHttpServer(onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    routeUpgrade(req, socket, head).catch(() => socket.destroy());
  });
  lifecycle.track(server);
  const port = await listen(server, resolved.port, resolved.host);

  const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  const url = `${resolved.tls ? 'https' : 'http'}://${host}:${port}`;
  let closing: Promise<void> | undefined;
  const clientId = (id: string | undefined): string => id ?? resolved.defaultClientId;

  return {
    provider,
    url,
    tokenUrl: url + dialect.tokenPath,
    refreshUrl: url + dialect.refreshPath,
    apiUrl: url + dialect.apiBase,
    stats,
    setLifetime: (seconds) => {
      store.lifetimeSeconds = checkLifetime(seconds);
    },
    issueAuthorizationCode: (id) => {
      if (!dialect.supportsAuthorizationCode) throw new TypeError(`${provider} has no authorization_code grant`);
      return store.newAuthorizationCode(clientId(id));
    },
    issueRefreshToken: (id) => {
      if (dialect.refreshPolicy === 'none') throw new TypeError(`${provider} issues no refresh tokens`);
      return store.newRefreshToken({ clientId: clientId(id) });
    },
    refreshTokenSpent: (token) => store.refreshTokenSpent(token),
    injectTokenFault: (plan) => tokenContext.faults.set(plan),
    injectApiFault: (plan) => apiContext.faults.set(plan),
    expireAllAccessTokens: () => store.expireAllAccessTokens(),
    resetStats: () => resetStats(stats),
    close: () => {
      closing ??= (async () => {
        webSocket.close();
        await lifecycle.close(server);
      })();
      return closing;
    },
  };
}
