import { z } from 'zod';
import { CLIENT_AUTH_METHODS } from '../providers/client-auth.js';
import { describedDialect } from '../providers/described.js';
import { builtInProvider, PROVIDER_NAMES } from '../providers/registry.js';
import type { ProviderDialect } from '../providers/types.js';
import { parseDuration, parseSize } from './duration.js';
import { DESCRIBED_NAME, providerDescriptionSchema } from './provider-description.js';

const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const hostPort = z.string({ error: 'expected "host:port", e.g. "127.0.0.1:8080"' }).transform((value, ctx) => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected "host:port" (e.g. "127.0.0.1:8080", "[::1]:8080"), got "${value}"` });
    return z.NEVER;
  }
  return { host: (match[1] ?? match[2]) as string, port };
});
export type HostPort = z.output<typeof hostPort>;

const duration = z.union([z.string(), z.number()], { error: 'expected a duration such as "500ms", "30s", "5m" or "1h"' }).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as "500ms", "30s", "5m" or "1h", got "${value}"` });
    return z.NEVER;
  }
  return ms;
});

const size = z.union([z.string(), z.number()], { error: 'expected a size such as "1MiB" or a number of bytes' }).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as "512KiB", "1MiB" or a number of bytes, got "${value}"` });
    return z.NEVER;
  }
  return bytes;
});

/** A Redis node for Sentinel or Cluster. */
const node = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

const httpUrl = (what: string) =>
  z.string({ error: `expected the ${what} as an http(s) URL` }).superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected the ${what} as an absolute http(s) URL, got "${value}"` });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: `must use https:// (or http:// for local tests), got "${url.protocol}"` });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not carry credentials in the URL; put them under credentials' });
    if (url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
  });

/** Form fields the dialect owns: a tokenParams entry may not override them. */
const RESERVED_TOKEN_PARAMS = new Set(['grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'refresh_token', 'code', 'code_verifier', 'redirect_uri', 'scope', 'resource', 'audience']);

const route = z
  .strictObject({
    // A built-in name, or one described under `providers` (checked with the whole config below).
    provider: z.string({ error: `expected one of: ${PROVIDER_NAMES.join(', ')}, or a provider described under providers` }).min(1, `expected one of: ${PROVIDER_NAMES.join(', ')}, or a provider described under providers`),
    upstream: httpUrl('upstream API base'),
    tokenUrl: httpUrl('token endpoint').optional(),
    refreshUrl: httpUrl('refresh endpoint').optional(),
    listen: hostPort.optional(),
    caFile: z.string().min(1).optional(),
    // Opt-in: an idempotent request answered 429 is retried once after its Retry-After, if that is at most maxWait.
    retry429: z.strictObject({ maxWait: duration }).optional(),
    credentials: z.record(z.string(), z.unknown(), { error: 'expected a mapping of credential fields' }),
    // Generic oauth2 only (the named providers have one documented way).
    clientAuth: z.enum(CLIENT_AUTH_METHODS, { error: `expected one of: ${CLIENT_AUTH_METHODS.join(', ')}` }).optional(),
    tokenParams: z
      .record(z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'form field names are letters, digits, "_", ".", ":" or "-"'), z.string({ error: 'expected a string value' }), { error: 'expected a mapping of extra form fields' })
      .superRefine((params, ctx) => {
        for (const name of Object.keys(params).filter((key) => RESERVED_TOKEN_PARAMS.has(key))) {
          ctx.addIssue({ code: 'custom', path: [name], message: `is set by the sidecar (grant, client authentication, scope, resource, audience); use the credentials keys instead` });
        }
      })
      .optional(),
    authorizeUrl: httpUrl('authorization endpoint').optional(),
  })
  .superRefine((value, ctx) => {
    const base = builtInProvider(value.provider);
    // A described provider's route is checked with the config, which holds the description.
    if (base !== undefined) checkRouteProvider(value, base, ctx, []);
  });

type RouteInput = { provider: string; tokenUrl?: string | undefined; credentials: Record<string, unknown>; clientAuth?: string | undefined; tokenParams?: Record<string, string> | undefined; authorizeUrl?: string | undefined };

/** A route against its provider's dialect (issues under `at`): route keys it accepts, a token URL, its credentials. */
function checkRouteProvider(value: RouteInput, base: ProviderDialect, ctx: z.RefinementCtx, at: readonly PropertyKey[]): void {
  for (const key of ['clientAuth', 'tokenParams', 'authorizeUrl'] as const) {
    if (value[key] !== undefined && !base.configure) ctx.addIssue({ code: 'custom', path: [...at, key], message: `applies only to provider oauth2, not ${value.provider}; remove it` });
  }
  const dialect = base.configure?.({ clientAuth: value.clientAuth, tokenParams: value.tokenParams, authorizeUrl: value.authorizeUrl }) ?? base;
  if (value.tokenUrl === undefined && dialect.defaultTokenUrl === undefined) {
    ctx.addIssue({ code: 'custom', path: [...at, 'tokenUrl'], message: `is required for provider "${value.provider}" (it has no documented default)` });
  }
  const parsed = dialect.credentials.safeParse(value.credentials);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [...at, 'credentials', ...issue.path] } as never);
  }
}

export const configSchema = z.strictObject({
  // Providers described as data (README: Describing a provider); a route names one as its provider.
  providers: z
    .record(z.string(), providerDescriptionSchema, { error: 'expected a mapping of provider names to descriptions' })
    .superRefine((providers, ctx) => {
      for (const name of Object.keys(providers)) {
        if (builtInProvider(name) !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `is a built-in provider; give the described one another name` });
        else if (!DESCRIBED_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'expected a provider name of lower-case letters, digits, "_" or "-", starting with a letter' });
      }
    })
    .default({}),
  listen: hostPort.default({ host: '127.0.0.1', port: 8080 }),
  admin: hostPort.default({ host: '0.0.0.0', port: 9464 }),
  store: z
    .strictObject({
      type: z.enum(['memory', 'file', 'redis'], { error: 'expected memory, file or redis' }).default('memory'),
      path: z.string().min(1).optional(),
      url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').optional(),
      keyPrefix: z.string().default('token-sidecar:'),
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      sentinel: z.strictObject({ name: z.string().min(1), nodes: z.array(node).min(1) }).optional(),
      cluster: z.array(node).min(1).optional(),
      lockTtl: duration.optional(),
    })
    .superRefine((value, ctx) => {
      if (value.type === 'file' && value.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'is required when store.type is file' });
      if (value.type === 'redis' && value.url === undefined && value.sentinel === undefined && value.cluster === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when store.type is redis (or give store.sentinel or store.cluster)' });
      }
      if (value.sentinel !== undefined && value.cluster !== undefined) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'store.sentinel and store.cluster exclude each other; keep one' });
    })
    .default({ type: 'memory', keyPrefix: 'token-sidecar:' }),
  readiness: z.strictObject({ failOnRejected: z.boolean().default(false) }).default({ failOnRejected: false }),
  cache: z.strictObject({ maxEntries: z.number().int().min(1).max(1_000_000).default(1000) }).default({ maxEntries: 1000 }),
  refresh: z
    .strictObject({
      ahead: z.number().gt(0, 'must be between 0 and 1 (exclusive)').lt(1, 'must be between 0 and 1 (exclusive)').default(0.2),
      defaultLifetime: duration.default(300_000),
      maxLifetime: duration.default(86_400_000),
      backoffInitial: duration.default(1_000),
      backoffMax: duration.default(60_000),
      rejectedRetry: duration.default(300_000),
      eager: z.boolean().default(true),
    })
    .default({ ahead: 0.2, defaultLifetime: 300_000, maxLifetime: 86_400_000, backoffInitial: 1_000, backoffMax: 60_000, rejectedRetry: 300_000, eager: true }),
  timeouts: z
    .strictObject({
      connect: duration.default(5_000),
      token: duration.default(10_000),
      upstreamHeaders: duration.default(30_000),
      idle: duration.default(60_000),
    })
    .default({ connect: 5_000, token: 10_000, upstreamHeaders: 30_000, idle: 60_000 }),
  upstream: z
    .strictObject({
      connections: z.number().int().min(1).max(10_000).default(128),
      retryBodyLimit: size.default(1024 * 1024),
    })
    .default({ connections: 128, retryBodyLimit: 1024 * 1024 }),
  shutdownGrace: duration.default(20_000),
  accessLog: z.boolean().default(false),
  routes: z
    .record(z.string(), route, { error: 'expected a mapping of route names to routes' })
    .superRefine((routes, ctx) => {
      const names = Object.keys(routes);
      if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'must define at least one route' });
      for (const name of names) {
        if (!ROUTE_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'route names are path segments: letters, digits, ".", "_" or "-", starting with a letter or digit' });
      }
    }),
});

/** Token requests one refresh may make: the refresh grant, then the initial grant as fallback. */
export const MAX_ATTEMPTS_PER_REFRESH = 2;
/** Added to the attempts' time in a Redis lock's TTL: the store round trips around them. */
export const LOCK_MARGIN_MS = 5_000;

/** The lock TTL a refresh needs: every attempt may take `timeouts.token`, plus a margin. */
export function minimumLockTtl(tokenTimeoutMs: number): number {
  return tokenTimeoutMs * MAX_ATTEMPTS_PER_REFRESH + LOCK_MARGIN_MS;
}

/** The dialect a route's `provider` names: a built-in, or one of the config's described providers. */
export function routeDialect(provider: string, providers: RawConfig['providers']): ProviderDialect | undefined {
  const description = Object.hasOwn(providers, provider) ? providers[provider] : undefined;
  return builtInProvider(provider) ?? (description === undefined ? undefined : describedDialect(provider, description));
}

export const validatedConfigSchema = configSchema.superRefine((config, ctx) => {
  for (const [name, route] of Object.entries(config.routes)) {
    if (builtInProvider(route.provider) !== undefined) continue;
    // A broken description is reported once, at its own keys, not again at every route using it.
    if (ctx.issues.some((issue) => issue.path?.[0] === 'providers' && issue.path[1] === route.provider)) continue;
    const dialect = routeDialect(route.provider, config.providers);
    if (dialect === undefined) {
      const described = Object.keys(config.providers);
      ctx.addIssue({ code: 'custom', path: ['routes', name, 'provider'], message: `expected one of: ${[...PROVIDER_NAMES, ...described].join(', ')}; got "${route.provider}" (describe it under providers.${route.provider}, or fix its spelling)` });
    } else {
      checkRouteProvider(route, dialect, ctx, ['routes', name]);
    }
  }
  const needed = minimumLockTtl(config.timeouts.token);
  if (config.store.lockTtl !== undefined && config.store.lockTtl < needed) {
    ctx.addIssue({ code: 'custom', path: ['store', 'lockTtl'], message: `must be at least ${needed} ms (timeouts.token × ${MAX_ATTEMPTS_PER_REFRESH} attempts + ${LOCK_MARGIN_MS} ms), or a slow token request outlives the lock and another replica spends the same refresh token; raise it or remove it (it defaults to that)` });
  }
  if (config.refresh.maxLifetime < config.refresh.defaultLifetime) {
    ctx.addIssue({ code: 'custom', path: ['refresh', 'maxLifetime'], message: `must be at least refresh.defaultLifetime (${config.refresh.defaultLifetime} ms)` });
  }
});

export type RawConfig = z.output<typeof configSchema>;
