import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { RateLimitGauges, resetTimestamp } from '../../src/proxy/rate-limit.js';
import { isIdempotent, retryAfterMs } from '../../src/proxy/retry-after.js';
import { metricValue } from '../support/sidecar.js';

const NOW = Date.UTC(2026, 11, 2, 10, 0, 0);

describe('X-RateLimit-Reset in both forms', () => {
  it.each([
    ['Cobee: seconds from now', 30, NOW / 1000 + 30],
    ['Cobee: 0 (resets now)', 0, NOW / 1000],
    ['Cobee: a day in seconds', 86_400, NOW / 1000 + 86_400],
    ['Light: a Unix time', 1_796_205_660, 1_796_205_660],
  ])('%s', (_name, value, expected) => {
    expect(resetTimestamp(value, NOW / 1000)).toBe(expected);
  });

  it('sets both gauges per route from an answer, and ignores answers without the headers or with garbage', async () => {
    const metrics = createMetrics(undefined, { defaultMetrics: false });
    const gauges = new RateLimitGauges(metrics, () => NOW);
    gauges.observe('cobee', { 'x-ratelimit-remaining': '41', 'x-ratelimit-reset': '30' });
    gauges.observe('light', { 'x-ratelimit-remaining': '299', 'x-ratelimit-reset': '1796205660' });
    gauges.observe('light', { 'content-type': 'text/plain' });
    gauges.observe('cobee', { 'x-ratelimit-remaining': 'lots' });
    const text = await metrics.registry.metrics();
    expect(metricValue(text, 'token_sidecar_upstream_ratelimit_remaining', { route: 'cobee' })).toBe(41);
    expect(metricValue(text, 'token_sidecar_upstream_ratelimit_reset_timestamp_seconds', { route: 'cobee' })).toBe(NOW / 1000 + 30);
    expect(metricValue(text, 'token_sidecar_upstream_ratelimit_remaining', { route: 'light' })).toBe(299);
    expect(metricValue(text, 'token_sidecar_upstream_ratelimit_reset_timestamp_seconds', { route: 'light' })).toBe(1_796_205_660);
  });
});

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  it.each([
    ['delay-seconds', '3', 3000],
    ['zero', '0', 0],
    ['an HTTP-date 5 s ahead', new Date(NOW + 5000).toUTCString(), 5000],
    ['an HTTP-date in the past', new Date(NOW - 5000).toUTCString(), 0],
    ['garbage', 'soon', undefined],
    ['absent', undefined, undefined],
  ])('%s', (_name, value, expected) => {
    expect(retryAfterMs(value === undefined ? {} : { 'retry-after': value }, NOW)).toBe(expected);
  });

  it('retries only idempotent methods', () => {
    expect(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'].every(isIdempotent)).toBe(true);
    expect(['POST', 'PATCH', 'CONNECT', undefined].some(isIdempotent)).toBe(false);
  });
});

describe('routes.<name>.retry429', () => {
  const route = (retry429: unknown) => ({ routes: { cobee: { provider: 'cobee', upstream: 'https://partners-api.cobee.io/api/v3', credentials: { clientId: 'a', clientSecret: 'b' }, retry429 } } });

  it('is off unless set, and takes a duration', () => {
    expect(validateConfig({ routes: { cobee: { ...route(undefined).routes.cobee, retry429: undefined } } }).routes[0]?.retry429).toBeUndefined();
    expect(validateConfig(route({ maxWait: '2s' })).routes[0]?.retry429).toEqual({ maxWait: 2000 });
  });

  it('names the key path and the fix when wrong', () => {
    expect(() => validateConfig(route({ maxWait: 'soon' }))).toThrow(ConfigError);
    expect(() => validateConfig(route({ maxWait: 'soon' }))).toThrow(/routes\.cobee\.retry429\.maxWait: expected a duration/);
    expect(() => validateConfig(route({ maxwait: '2s' }))).toThrow(/routes\.cobee\.retry429\.maxwait: unknown key/);
  });
});
