import type { RouteConfig } from '../config/load.js';
import { SidecarError } from '../errors.js';

export interface RouteMatch {
  readonly route: RouteConfig;
  /** Path and query to send upstream: the upstream's base path joined with the rest. */
  readonly upstreamPath: string;
}

const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
const INVALID_ESCAPE = /%(?![0-9a-f]{2})/i;

/**
 * Refuses any path that could climb out of its route: dot segments (also as %2e), encoded
 * slashes or backslashes, invalid escapes, and anything that is not an origin-form path.
 */
function assertSafePath(path: string): void {
  if (!path.startsWith('/')) throw new SidecarError('bad_request', { detail: 'request target is not an origin-form path' });
  // The usual path has no escape, backslash or segment starting with a dot: nothing below can refuse it.
  if (!path.includes('%') && !path.includes('\\') && !path.includes('/.')) return;
  if (path.includes('\\') || ENCODED_SEPARATOR.test(path) || INVALID_ESCAPE.test(path)) {
    throw new SidecarError('bad_request', { detail: 'path holds a backslash, an encoded separator or an invalid escape' });
  }
  for (const segment of path.split('/')) {
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') throw new SidecarError('bad_request', { detail: 'path holds a dot segment' });
  }
}

function joinUpstream(upstream: URL, rest: string, query: string): string {
  const base = upstream.pathname.replace(/\/+$/, '');
  const path = `${base}${rest}` || '/';
  return query ? `${path}?${query}` : path;
}

/** Matches `/<route>/<rest>` on the main listener, or every path on a route's own listener. */
export function createRouter(routes: readonly RouteConfig[]) {
  const byName = new Map(routes.map((route) => [route.name, route]));
  return {
    match(rawUrl: string | undefined, ownRoute?: RouteConfig): RouteMatch {
      const target = rawUrl ?? '';
      const queryAt = target.indexOf('?');
      const path = queryAt === -1 ? target : target.slice(0, queryAt);
      const query = queryAt === -1 ? '' : target.slice(queryAt + 1);
      assertSafePath(path);
      if (ownRoute) return { route: ownRoute, upstreamPath: joinUpstream(ownRoute.upstream, path === '/' ? '' : path, query) };
      const end = path.indexOf('/', 1);
      const name = end === -1 ? path.slice(1) : path.slice(1, end);
      const route = byName.get(name);
      if (!route) throw new SidecarError('no_route', { detail: 'no route matches the first path segment' });
      return { route, upstreamPath: joinUpstream(route.upstream, end === -1 ? '' : path.slice(end), query) };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
