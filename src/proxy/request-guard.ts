import type { IncomingHttpHeaders } from 'node:http';
import { isLoopbackHost } from '../config/loopback.js';
import type { GuardConfig } from '../config/schema.js';
import { SidecarError } from '../errors.js';

/** Which check refused a request: the `check` field of the `request_forbidden` log line. */
export type GuardCheck = 'require_header' | 'host' | 'origin' | 'sec_fetch_site' | 'preflight';

/**
 * What the guard says of a request, before routing and before any token is touched: let it
 * through, refuse it (403 forbidden_request), or answer a CORS preflight itself (never forwarded).
 */
export type GuardVerdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'refuse'; readonly check: GuardCheck; readonly error: SidecarError }
  | { readonly kind: 'preflight'; readonly headers: Record<string, string> };

const PASS: GuardVerdict = { kind: 'pass' };
const ACCEPTED_HOSTS = 64;

/** The name of a Host header value, without port or IPv6 brackets; undefined when there is none. */
function hostName(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d*)?$/.exec(host);
  if (bracketed) return bracketed[1];
  return host.replace(/:\d*$/, '');
}

function refuse(check: GuardCheck, detail: string): GuardVerdict {
  return { kind: 'refuse', check, error: new SidecarError('forbidden_request', { detail }) };
}

/** A CORS preflight: the browser asks before a request a page may not send unasked. */
function isPreflight(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
}

/** The answer to a listed Origin's preflight, given for the upstream, which is never asked. */
function preflightAnswer(origin: string, headers: IncomingHttpHeaders): GuardVerdict {
  const requested = (name: string) => {
    const value = headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const allowHeaders = requested('access-control-request-headers');
  return {
    kind: 'preflight',
    headers: {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': requested('access-control-request-method') ?? '',
      ...(allowHeaders === undefined ? {} : { 'access-control-allow-headers': allowHeaders }),
      'access-control-max-age': '600',
      vary: 'origin',
      'content-length': '0',
    },
  };
}

/**
 * SPEC §2 `guard`: the proxy spends tokens for whatever reaches it, so a request must look like
 * the app's. `requireHeader` first; then a Host that is loopback or listed (DNS rebinding sends
 * the attacker's name); then no browser page from elsewhere: an Origin not listed, or
 * `Sec-Fetch-Site: cross-site`/`same-site` without a listed Origin (localhost on another port is
 * same-site). A preflight is never forwarded: 204 for a listed Origin on a good Host, else 403;
 * it spends no token, so it needs no `requireHeader` (a browser cannot add one to it).
 */
export function createRequestGuard(config: GuardConfig) {
  const hosts = new Set(config.allowHosts);
  const origins = new Set(config.allowOrigins);
  const required = config.requireHeader;

  // Host values already accepted: an app sends the same one or two on every request, so the
  // hot path parses each once. Only accepted values are kept (a refused Host costs its parse
  // again), and at most ACCEPTED_HOSTS of them.
  const accepted = new Set<string>();

  function hostRefusal(headers: IncomingHttpHeaders): GuardVerdict | undefined {
    const raw = headers.host;
    if (raw !== undefined && accepted.has(raw)) return undefined;
    const host = hostName(raw);
    if (host !== undefined && (isLoopbackHost(host) || hosts.has(host.toLowerCase().replace(/\.$/, '')))) {
      if (accepted.size < ACCEPTED_HOSTS) accepted.add(raw as string);
      return undefined;
    }
    return refuse('host', 'the Host header is neither loopback nor in guard.allowHosts (DNS rebinding?)');
  }

  return {
    check(method: string | undefined, headers: IncomingHttpHeaders): GuardVerdict {
      const origin = headers.origin;
      const listed = origin !== undefined && origins.has(origin);
      if (isPreflight(method, headers)) {
        return hostRefusal(headers) ?? (listed ? preflightAnswer(origin, headers) : refuse('preflight', 'a CORS preflight from an Origin not in guard.allowOrigins'));
      }
      if (required !== undefined && headers[required.name] !== required.value) {
        return refuse('require_header', `the ${required.name} header required by guard.requireHeader is missing or different`);
      }
      const badHost = hostRefusal(headers);
      if (badHost !== undefined) return badHost;
      if (origin !== undefined && !listed) return refuse('origin', 'the Origin header names a page not in guard.allowOrigins');
      const site = headers['sec-fetch-site'];
      if (!listed && (site === 'cross-site' || site === 'same-site')) return refuse('sec_fetch_site', `Sec-Fetch-Site: ${site} without an Origin in guard.allowOrigins`);
      return PASS;
    },
  };
}

export type RequestGuard = ReturnType<typeof createRequestGuard>;
