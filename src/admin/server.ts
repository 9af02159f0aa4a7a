import { createServer, type Server } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';
import type { RouteTokenState } from '../token/provider.js';

export interface AdminDeps {
  readonly metrics: Metrics;
  readonly states: () => RouteTokenState[];
  /** False until listeners are up, and again once shutdown starts. */
  readonly accepting: () => boolean;
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
        const rejected = routes.filter((route) => route.state === 'rejected').map((route) => route.route);
        const ready = deps.accepting() && rejected.length === 0;
        const reason = !deps.accepting() ? 'not accepting requests (starting or shutting down)' : rejected.length > 0 ? `credentials rejected for: ${rejected.join(', ')}` : undefined;
        return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...(reason ? { reason } : {}), routes });
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
