import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { appResponseHeaders, upgradeResponseHead, upstreamRequestHeaders } from '../../src/proxy/headers.js';

// One header hygiene for plain requests and WebSocket upgrades: the WebSocket forwarder builds its
// upstream request with the same upstreamRequestHeaders (test/integration/websocket-route.test.ts
// checks that end to end), so this one table holds for both.

/** [header, value, the Connection header sent with it, reaches the upstream?] */
const REQUEST: Array<[string, string, string | undefined, boolean]> = [
  ['Accept', 'application/json', undefined, true],
  ['X-Custom', 'kept', undefined, true],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'Upgrade', true],
  ['Sec-WebSocket-Version', '13', 'Upgrade', true],
  ['Authorization', 'Bearer the-apps-own', undefined, false],
  ['Proxy-Authorization', 'Basic c2VjcmV0', undefined, false],
  ['Proxy-Connection', 'keep-alive', undefined, false],
  ['Host', 'attacker.example', undefined, false],
  ['Expect', '100-continue', undefined, false],
  ['Connection', 'keep-alive', 'keep-alive', false],
  ['Keep-Alive', 'timeout=5', undefined, false],
  ['TE', 'trailers', undefined, false],
  ['Trailer', 'x-checksum', undefined, false],
  ['Transfer-Encoding', 'chunked', undefined, false],
  ['Upgrade', 'websocket', 'Upgrade', false],
  ['X-Listed', 'dropped', 'Upgrade, X-Listed', false],
  ['x-listed', 'dropped', 'keep-alive, x-listed', false],
];

describe('request headers to the upstream (plain requests and upgrades)', () => {
  it.each(REQUEST)('%s: %s (Connection: %s) forwarded: %s', (name, value, connection, forwarded) => {
    const raw = ['Accept', '*/*', name, value, ...(connection === undefined || name === 'Connection' ? [] : ['Connection', connection])];
    const headers = upstreamRequestHeaders(raw, connection, 'Bearer route-token');
    const names = headers.filter((_, index) => index % 2 === 0).map((header) => header.toLowerCase());
    expect(names.includes(name.toLowerCase()) && headers.includes(value), JSON.stringify(headers)).toBe(forwarded);
    expect(names).not.toContain('connection');
    // The route's token is the one Authorization, last.
    expect(headers.slice(-2)).toEqual(['authorization', 'Bearer route-token']);
    expect(names.filter((header) => header === 'authorization')).toHaveLength(1);
  });

  it('keeps order and duplicates of everything it forwards', () => {
    expect(upstreamRequestHeaders(['X-A', '1', 'x-b', '2', 'X-A', '3'], undefined, 'Bearer t')).toEqual(['X-A', '1', 'x-b', '2', 'X-A', '3', 'authorization', 'Bearer t']);
  });
});

/** [header, value, reaches the app?] in an upstream answer */
const RESPONSE: Array<[string, string, boolean]> = [
  ['content-type', 'application/json', true],
  ['x-ratelimit-remaining', '42', true],
  ['retry-after', '3', true],
  ['sec-websocket-accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', true],
  ['x-token-sidecar-error', 'token_rejected', false],
  ['X-Token-Sidecar-Error', 'token_rejected', false],
  ['x-token-sidecar-anything', 'forged', false],
  ['keep-alive', 'timeout=5', false],
  ['proxy-authenticate', 'Basic', false],
  ['transfer-encoding', 'chunked', false],
  ['x-listed', 'dropped', false],
];

function parsed(name: string, value: string): IncomingHttpHeaders {
  // undici hands the forwarder lower-cased names
  return { connection: 'keep-alive, x-listed', [name.toLowerCase()]: value };
}

describe('upstream answer headers to the app (plain answers and 101s)', () => {
  it.each(RESPONSE)('%s: %s reaches the app: %s', (name, value, kept) => {
    const plain = appResponseHeaders(parsed(name, value));
    expect(plain[name.toLowerCase()] === value).toBe(kept);
    expect(plain.connection).toBeUndefined();
    const head = upgradeResponseHead({ ...parsed(name, value), upgrade: 'websocket' });
    expect(head.includes(`${name.toLowerCase()}: ${value}\r\n`)).toBe(kept);
  });

  it("a 101 keeps the upgrade's own Upgrade and Connection, once", () => {
    const head = upgradeResponseHead({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': 'abc' });
    expect(head).toBe('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: abc\r\n\r\n');
  });

  it('regression: an upstream forging the error marker cannot make its answer look like the sidecar', () => {
    expect(appResponseHeaders({ 'x-token-sidecar-error': 'token_rejected', 'content-type': 'application/json' })).toEqual({ 'content-type': 'application/json' });
  });
});
