// A fault inside the sidecar is `500 internal` (SPEC §4), logged and counted as such, never an
// upstream outage. The real proxy server, router, forwarder and pools; only the token source is
// a stand-in that has a bug.
import { once } from 'node:events';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { Forwarder, type TokenSource } from '../../src/proxy/forward.js';
import { UpstreamPools } from '../../src/proxy/pools.js';
import { RateLimitGauges } from '../../src/proxy/rate-limit.js';
import { createRequestGuard } from '../../src/proxy/request-guard.js';
import { createRouter } from '../../src/proxy/router.js';
import { createProxyServer } from '../../src/proxy/server.js';
import { WebSocketForwarder } from '../../src/proxy/websocket.js';
import { call } from '../support/http.js';
import { metricValue } from '../support/sidecar.js';

const config = validateConfig({
  routes: { covver: { provider: 'covver', upstream: 'http://127.0.0.1:9', credentials: { clientId: 'a', clientSecret: 'b' } } },
});
const buggy: TokenSource = {
  authorization: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'header')")),
  unauthorized: () => false,
  retried: () => undefined,
};
const lines: Array<Record<string, unknown>> = [];
const logger = { debug: () => undefined, info: () => undefined, warn: (entry: Record<string, unknown>) => void lines.push(entry), error: (entry: Record<string, unknown>) => void lines.push(entry) } as unknown as Logger;
const metrics = createMetrics(undefined, { defaultMetrics: false });
const pools = new UpstreamPools({ connections: 4, connectTimeout: 500, headersTimeout: 1000, idleTimeout: 1000 });
let server: Server;
let url: string;

beforeAll(async () => {
  server = createProxyServer({
    router: createRouter(config.routes),
    guard: createRequestGuard(config.guard),
    forwarder: new Forwarder({ pools, tokens: buggy, metrics, rateLimits: new RateLimitGauges(metrics), retryBodyLimit: 1024 }),
    websockets: new WebSocketForwarder({ pools, tokens: buggy, metrics, routes: ['covver'] }),
    metrics,
    logger,
    accessLog: false,
    appTimeouts: { headers: 5_000, request: 60_000 },
    inflight: { count: 0, draining: false },
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await pools.close();
});

describe('faults inside the sidecar', () => {
  it('regression: a bug (a TypeError) is 500 internal, not 502 upstream_unavailable', async () => {
    const answer = await call(`${url}/covver/whoami`);
    expect(answer.status).toBe(500);
    expect(answer.headers['x-token-sidecar-error']).toBe('internal');
    expect(answer.json).toMatchObject({ error: 'internal', route: 'covver' });
    // The bug's own words stay in the log, never in the answer.
    expect(answer.text).not.toContain('Cannot read');
    expect(lines.at(-1)).toMatchObject({ event: 'request_failed', route: 'covver', error: 'internal' });
    expect(metricValue(await metrics.registry.metrics(), 'token_sidecar_requests_total', { route: 'covver', code: '500' })).toBe(1);
  });
});
