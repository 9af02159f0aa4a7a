import { createServer, type Server } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';
import type { RouteTokenState } from '../token/provider.js';

export interface AdminDeps {
  readonly metrics: Metrics;
  readonly states: () => RouteTokenState[];
  /** False until listeners are up, and again once shutdown starts. */
  readonly accepting: () => boolean;
  /** Every route fetched at start has finished its first token attempt, success or failure. */
  readonly started: () => boolean;
  /** readiness.failOnRejected: a rejected credential makes /readyz 503 (off by default). */
  readonly failOnRejected: boolean;
}

/** SPEC §5: ready once accepting and past the first token attempts; rejected only if asked. */
function readiness(deps: AdminDeps, routes: readonly RouteTokenState[]): { ready: boolean; reason?: string } {
  if (!deps.accepting()) return { ready: false, reason: 'not accepting requests (starting or shutting down)' };
  if (!deps.started()) return { ready: false, reason: 'waiting for the first token attempt of every route' };
  const rejected = routes.filter((route) => route.state === 'rejected').map((route) => route.route);
  if (rejected.length > 0 && deps.failOnRejected) return { ready: false, reason: `credentials rejected for: ${rejected.join(', ')}` };
  if (rejected.length > 0) return { ready: true, reason: `credentials rejected for: ${rejected.join(', ')} (serving; readiness.failOnRejected is off)` };
  return { ready: true };
}

function json(status: number, body: unknown) {
  return { status, type: 'application/json', body: JSON.stringify(body) };
}

/** GET /metrics, /healthz, /readyz. Nothing here holds a secret. */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed' });
      if (path === '/metrics') return { status: 200, type: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
      if (path === '/healthz') return json(200, { status: 'ok' });
      if (path === '/readyz') {
        const routes = deps.states();
        const { ready, reason } = readiness(deps, routes);
        const unsaved = routes.filter((route) => route.unsaved).map((route) => route.route);
        return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...(reason ? { reason } : {}), ...(unsaved.length > 0 ? { unsavedGrants: unsaved } : {}), routes });
      }
      return json(404, { error: 'not_found', paths: ['/metrics', '/healthz', '/readyz'] });
    };
    answer().then(
      ({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal"}');
      },
    );
  });
}
