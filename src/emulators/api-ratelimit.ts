import type { ServerResponse } from 'node:http';
import { sendJson } from './http.js';
import type { EmulatedProvider } from './types.js';

/**
 * The rate limits the providers document (../shared/providers/CONTRACTS.md): Light allows 300
 * requests a minute per key or token and sends `X-RateLimit-*` with the reset as a Unix time;
 * Cobee sends `x-ratelimit-limit/-remaining/-reset` with the reset in seconds from now (its limit
 * is not published: the emulator uses 1000 a minute). Covver and Petje document none.
 */
interface RateLimitPolicy {
  readonly limit: number;
  readonly windowSeconds: number;
  readonly reset: 'seconds' | 'unix';
  readonly names: { readonly limit: string; readonly remaining: string; readonly reset: string };
  readonly tooMany: unknown;
}

const POLICIES: Partial<Record<EmulatedProvider, RateLimitPolicy>> = {
  cobee: {
    limit: 1000,
    windowSeconds: 60,
    reset: 'seconds',
    names: { limit: 'x-ratelimit-limit', remaining: 'x-ratelimit-remaining', reset: 'x-ratelimit-reset' },
    tooMany: { error: 'rate_limit_exceeded', error_description: 'Too many requests' },
  },
  light: {
    limit: 300,
    windowSeconds: 60,
    reset: 'unix',
    names: { limit: 'X-RateLimit-Limit', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset' },
    tooMany: { message: 'Too Many Requests' },
  },
};

/** A fixed window per credential (token owner), counted on every authenticated API request. */
export class RateLimiter {
  readonly #policy: RateLimitPolicy;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; used: number }>();

  readonly #enforce: boolean;

  constructor(policy: RateLimitPolicy, now: () => number, enforce: boolean) {
    this.#policy = policy;
    this.#now = now;
    this.#enforce = enforce;
  }

  /** Counts one request for `key`, sets the headers on `res`; true if it was over the limit (answered 429). */
  take(key: string, res: ServerResponse): boolean {
    const { limit, windowSeconds, names } = this.#policy;
    const nowSeconds = this.#now() / 1000;
    let window = this.#windows.get(key);
    if (!window || nowSeconds >= window.start + windowSeconds) {
      window = { start: Math.floor(nowSeconds), used: 0 };
      this.#windows.set(key, window);
    }
    window.used += 1;
    const resetAt = window.start + windowSeconds;
    const secondsLeft = Math.max(0, Math.ceil(resetAt - nowSeconds));
    res.setHeader(names.limit, String(limit));
    res.setHeader(names.remaining, String(Math.max(0, limit - window.used)));
    res.setHeader(names.reset, String(this.#policy.reset === 'unix' ? resetAt : secondsLeft));
    if (window.used <= limit || !this.#enforce) return false;
    sendJson(res, 429, this.#policy.tooMany, { 'retry-after': String(secondsLeft) });
    return true;
  }
}

/** The provider's limiter, or undefined for providers that document none. */
export function rateLimiterFor(provider: string, now: () => number, mode: 'headers' | 'enforce' = 'headers'): RateLimiter | undefined {
  const policy = Object.hasOwn(POLICIES, provider) ? POLICIES[provider as EmulatedProvider] : undefined;
  return policy === undefined ? undefined : new RateLimiter(policy, now, mode === 'enforce');
}
