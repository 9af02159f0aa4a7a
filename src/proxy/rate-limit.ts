import type { IncomingHttpHeaders } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';

/**
 * `X-RateLimit-Reset` comes in two forms: Cobee sends seconds from now, Light a Unix time.
 * Values at or above this (2001-09-09) are Unix times; any window in seconds is far below it.
 */
export const UNIX_TIME_FLOOR = 1_000_000_000;

/** The Unix time (seconds) a window resets, from either form of `X-RateLimit-Reset`. */
export function resetTimestamp(value: number, nowSeconds: number): number {
  return value >= UNIX_TIME_FLOOR ? value : nowSeconds + value;
}

function headerNumber(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (text === undefined || text === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) && number >= 0 ? number : undefined;
}

type RouteGauges = { remaining: { set(value: number): void }; reset: { set(value: number): void } };

/** Keeps the SPEC §5 rate-limit gauges of each route from the upstream's answers; label children built once per route. */
export class RateLimitGauges {
  readonly #metrics: Metrics;
  readonly #now: () => number;
  readonly #routes = new Map<string, RouteGauges>();

  constructor(metrics: Metrics, now: () => number = Date.now) {
    this.#metrics = metrics;
    this.#now = now;
  }

  observe(route: string, headers: IncomingHttpHeaders): void {
    const remaining = headerNumber(headers['x-ratelimit-remaining']);
    if (remaining === undefined) return;
    let gauges = this.#routes.get(route);
    if (!gauges) {
      gauges = { remaining: this.#metrics.upstreamRateLimitRemaining.labels({ route }), reset: this.#metrics.upstreamRateLimitReset.labels({ route }) };
      this.#routes.set(route, gauges);
    }
    gauges.remaining.set(remaining);
    const reset = headerNumber(headers['x-ratelimit-reset']);
    if (reset !== undefined) gauges.reset.set(resetTimestamp(reset, Math.floor(this.#now() / 1000)));
  }
}
