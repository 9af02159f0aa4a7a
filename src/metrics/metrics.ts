import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric of SPEC §5, on a registry the app creates (no global state).
 * Labels are bounded: route names, providers, grants, results, methods and status codes.
 */
export function createMetrics(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    tokenRefresh: new Counter({
      name: 'token_sidecar_token_refresh_total',
      help: 'Token requests made to token endpoints, by grant and result (success, rejected, error).',
      labelNames: ['route', 'provider', 'grant', 'result'] as const,
      registers: [registry],
    }),
    tokenRefreshDuration: new Histogram({
      name: 'token_sidecar_token_refresh_duration_seconds',
      help: 'Duration of token requests to token endpoints.',
      labelNames: ['route', 'provider'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    tokenExpiry: new Gauge({
      name: 'token_sidecar_token_expiry_timestamp_seconds',
      help: 'Unix time at which the current access token of the route expires.',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    tokenCache: new Counter({
      name: 'token_sidecar_token_cache_total',
      help: 'Token lookups on the request path: hit (valid cached token), miss (fetched), coalesced (joined a fetch in flight).',
      labelNames: ['route', 'result'] as const,
      registers: [registry],
    }),
    tokenCacheEntries: new Gauge({
      name: 'token_sidecar_token_cache_entries',
      help: 'Credentials whose tokens the sidecar holds now (bounded by cache.maxEntries; evicted ones still finishing a refresh or an unsaved grant count until done).',
      registers: [registry],
    }),
    requests: new Counter({
      name: 'token_sidecar_requests_total',
      help: 'Requests answered to apps, by route, method and status code (upstream answers and the sidecar own errors).',
      labelNames: ['route', 'method', 'code'] as const,
      registers: [registry],
    }),
    websockets: new Gauge({
      name: 'token_sidecar_websockets',
      help: 'Open upgraded (WebSocket) connections carried for the route.',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    upstreamRateLimitRemaining: new Gauge({
      name: 'token_sidecar_upstream_ratelimit_remaining',
      help: "The upstream's last X-RateLimit-Remaining for the route: requests left in its window.",
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    upstreamRateLimitReset: new Gauge({
      name: 'token_sidecar_upstream_ratelimit_reset_timestamp_seconds',
      help: "Unix time the upstream's rate-limit window resets (from X-RateLimit-Reset, seconds from now or a Unix time).",
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'token_sidecar_request_duration_seconds',
      help: 'Time from receiving a request to the end of its answer.',
      labelNames: ['route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    upstreamRetries: new Counter({
      name: 'token_sidecar_upstream_retries_total',
      help: 'Requests retried upstream by the sidecar, by reason (unauthorized: a 401 answered with a fresh token; rate_limited: a 429 retried after its Retry-After).',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    }),
    grantUnsaved: new Gauge({
      name: 'token_sidecar_grant_unsaved',
      help: 'Grants (a rotated refresh token) the token store has not accepted yet, retried until they land: 1 while one waits.',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'token_sidecar_store_errors_total',
      help: 'Token store operations that failed, by operation (get, set, lock).',
      labelNames: ['route', 'operation'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Keeps the method label bounded: unknown methods count as OTHER. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'OTHER';
}

/** The route label of requests no route matched (route names cannot start with "_"). */
export const UNMATCHED_ROUTE = '_unmatched';
