import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus those the sidecar itself owns. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
/** Replaced or set by the sidecar and the HTTP client (Host becomes the upstream's). */
const OWNED_REQUEST = new Set(['host', 'authorization', 'expect']);

function connectionListed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(text.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean));
}

/** Request headers for the upstream, from the raw list (order and duplicates kept), with our Authorization. */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connection: string | string[] | undefined, authorization: string): string[] {
  const listed = connectionListed(connection);
  const headers: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || OWNED_REQUEST.has(name) || listed.has(name)) continue;
    headers.push(rawHeaders[index] as string, rawHeaders[index + 1] as string);
  }
  headers.push('authorization', authorization);
  return headers;
}

/** Response headers for the app: the upstream's, less hop-by-hop ones. */
export function appResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const result: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    result[name] = value;
  }
  return result;
}
