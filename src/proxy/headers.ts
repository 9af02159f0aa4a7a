import type { IncomingHttpHeaders } from 'node:http';

// One header hygiene for plain requests and WebSocket upgrades (test/unit/headers.test.ts is its table).

/** RFC 9110 §7.6.1 hop-by-hop headers, plus those the sidecar itself owns. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
/** Replaced or set by the sidecar and the HTTP client (Host becomes the upstream's). */
const OWNED_REQUEST = new Set(['host', 'authorization', 'expect']);
/** The sidecar's own namespace (its error marker): an upstream cannot set these (SPEC §4). */
const OWN_PREFIX = 'x-token-sidecar-';

/** Names a Connection header lists; undefined for the usual `keep-alive`/`close`/`upgrade`, so the hot path allocates nothing. */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  if (text === 'keep-alive' || text === 'close' || text === 'upgrade') return undefined;
  return new Set(text.split(',').map((name) => name.trim()).filter(Boolean));
}

function forgedOrHop(name: string, listed: Set<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith(OWN_PREFIX) || (listed !== undefined && listed.has(name));
}

/**
 * Request headers for the upstream, from the raw list in one pass (order and duplicates kept),
 * with the route's Authorization (in `name`, lower case, for a provider that sends it elsewhere: the
 * app's own header of that name is replaced too). The same for an upgrade: undici adds its own Upgrade/Connection.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connection: string | string[] | undefined, authorization: string, name = 'authorization'): string[] {
  const listed = connectionListed(connection);
  const headers: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const raw = rawHeaders[index] as string;
    const lower = raw.toLowerCase();
    if (HOP_BY_HOP.has(lower) || OWNED_REQUEST.has(lower) || lower === name || (listed !== undefined && listed.has(lower))) continue;
    headers.push(raw, rawHeaders[index + 1] as string);
  }
  headers.push(name, authorization);
  return headers;
}

/** Response headers for the app: the upstream's, less hop-by-hop ones and any `x-token-sidecar-*` it sent. */
export function appResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const result: IncomingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || forgedOrHop(name, listed)) continue;
    result[name] = value;
  }
  return result;
}

/**
 * The head of a `101 Switching Protocols` for the app: the same filter, but the upgrade's own
 * `Upgrade` and `Connection: upgrade` stay (they are the answer).
 */
export function upgradeResponseHead(headers: IncomingHttpHeaders): string {
  const listed = connectionListed(headers.connection);
  let head = 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'connection') continue;
    if (name !== 'upgrade' && forgedOrHop(name, listed)) continue;
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${item}\r\n`;
  }
  return `${head}\r\n`;
}
