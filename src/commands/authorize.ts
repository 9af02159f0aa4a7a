import { credentialKey, type RouteConfig, type SidecarConfig } from '../config/load.js';
import { UpstreamPools } from '../proxy/pools.js';
import { TokenClient } from '../token/client.js';
import { fingerprint } from '../token/grant-plan.js';
import { createStore } from '../token/stores/index.js';
import { UsageError } from './usage-error.js';

/**
 * Exchanges a one-time authorization code for a refresh token and stores it where the running
 * sidecar will find it. Returns a sentence for the operator (never the token).
 */
export async function authorize(config: SidecarConfig, routeName: string, code: string, codeVerifier?: string): Promise<string> {
  const route = authorizableRoute(config, routeName);
  const grant = route.dialect.authorizationCodeGrant as NonNullable<typeof route.dialect.authorizationCodeGrant>;
  const credentials = route.credentials.read();
  const pools = new UpstreamPools({ connections: 1, connectTimeout: config.timeouts.connect, headersTimeout: config.timeouts.token, idleTimeout: config.timeouts.token });
  const store = await createStore(config);
  try {
    const tokenSet = await new TokenClient({ timeoutMs: config.timeouts.token, maxTokenBytes: config.refresh.maxTokenSize }).send(
      grant(credentials, code, { tokenUrl: route.tokenUrl, refreshUrl: route.refreshUrl }, codeVerifier),
      route.dialect,
      pools.tokenEndpoint(route),
    );
    if (tokenSet.refreshToken === undefined) throw new Error('the token endpoint returned no refresh token');
    const now = Date.now();
    const key = credentialKey(route);
    // A new consent starts the chain after whatever is stored: the running sidecar's next read
    // takes it, and its own older writes are refused by the store's compare-and-set.
    for (let attempt = 0; ; attempt += 1) {
      const stored = await store.get(key).catch(() => undefined);
      const written = await store.set(key, {
        refreshToken: tokenSet.refreshToken,
        accessToken: tokenSet.accessToken,
        obtainedAt: now,
        expiresAt: now + Math.min((tokenSet.expiresInSeconds ?? config.refresh.defaultLifetime / 1000) * 1000, config.refresh.maxLifetime),
        // Tie the grant to the config's current bootstrap token so the stored chain wins over it.
        bootstrap: credentials.refreshToken === undefined ? undefined : fingerprint(credentials.refreshToken),
        generation: (stored?.generation ?? 0) + 1,
        updatedAt: now,
      });
      if (written.written) break;
      if (attempt >= 5) throw new Error('the store kept changing while the grant was written; run authorize again');
    }
    return `route ${routeName}: refresh token stored in the ${config.store.type} store; the sidecar uses it from its next token fetch`;
  } finally {
    await pools.close();
    await store.close();
  }
}

/** The route `authorize` works on, or a UsageError saying why it cannot (checked before any consent). */
export function authorizableRoute(config: SidecarConfig, routeName: string): RouteConfig {
  const route = config.routes.find((candidate) => candidate.name === routeName);
  if (!route) throw new UsageError(`route "${routeName}" is not in the config; routes: ${config.routes.map((r) => r.name).join(', ')}`);
  if (route.tenants) throw new UsageError(`route "${routeName}" has per-tenant credentials; authorize each tenant with its provider and put its refresh token in the tenant's folder as the file refreshToken (${route.tenants.directory}/<tenant>/refreshToken)`);
  if (!route.dialect.authorizationCodeGrant) throw new UsageError(`provider ${route.provider} of route "${routeName}" has no authorization-code grant; nothing to authorize`);
  if (config.store.type === 'memory') throw new UsageError('store.type is memory, so the refresh token would be lost on exit; configure a file or redis store');
  return route;
}

export { UsageError };
