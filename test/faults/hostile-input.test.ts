// Hostile and broken requests over raw TCP: each gets a clear answer, none reaches an
// upstream with a token it should not carry, and a normal request afterwards still works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, Cleanup, fastConfig, rawExchange, rawStatus, routeFor, startSidecar, waitForStatus, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
let api: Emulator;
let other: Emulator;
let running: RunningSidecar;

beforeAll(async () => {
  api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  other = cleanup.add(await startEmulator('covver'), (started) => started.close());
  running = cleanup.add(await startSidecar(fastConfig({ api: routeFor(api), other: routeFor(other) })), (started) => started.stop());
  await waitForStatus(`${running.url}/api/whoami`);
  await waitForStatus(`${running.url}/other/whoami`);
});
afterAll(() => cleanup.run());

function head(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The JSON error code of a raw answer (the sidecar's own answers carry x-token-sidecar-error). */
function errorCode(answer: string): string | undefined {
  return /\r\nx-token-sidecar-error: ([a-z_]+)\r\n/i.exec(answer)?.[1];
}

interface Case {
  name: string;
  bytes: () => string;
  status: number;
  error?: string;
}

const host = () => `Host: ${new URL(running.url).host}`;

const CASES: Case[] = [
  { name: 'oversized headers', bytes: () => head(['GET /api/whoami HTTP/1.1', host(), `X-Big: ${'a'.repeat(64 * 1024)}`]), status: 431 },
  { name: 'malformed request line', bytes: () => head(['GARBAGE', host()]), status: 400 },
  { name: 'unknown HTTP version', bytes: () => head(['GET /api/whoami HTTP/7.0', host()]), status: 400 },
  { name: 'Content-Length with Transfer-Encoding (smuggling)', bytes: () => `${head(['POST /api/echo HTTP/1.1', host(), 'Content-Length: 5', 'Transfer-Encoding: chunked'])}0\r\n\r\n`, status: 400 },
  { name: 'two different Content-Lengths', bytes: () => `${head(['POST /api/echo HTTP/1.1', host(), 'Content-Length: 3', 'Content-Length: 5'])}abcde`, status: 400 },
  { name: 'unknown Transfer-Encoding', bytes: () => `${head(['POST /api/echo HTTP/1.1', host(), 'Transfer-Encoding: xchunked'])}abc`, status: 400 },
  { name: 'Transfer-Encoding not ending in chunked', bytes: () => `${head(['POST /api/echo HTTP/1.1', host(), 'Transfer-Encoding: chunked, identity'])}0\r\n\r\n`, status: 400 },
  { name: 'negative Content-Length', bytes: () => head(['POST /api/echo HTTP/1.1', host(), 'Content-Length: -1']), status: 400 },
  { name: 'broken chunk size', bytes: () => `${head(['POST /api/echo HTTP/1.1', host(), 'Transfer-Encoding: chunked'])}zz\r\nabc\r\n0\r\n\r\n`, status: 400 },
  { name: 'obsolete header line folding', bytes: () => head(['GET /api/whoami HTTP/1.1', host(), 'X-A: a', ' folded']), status: 400 },
  { name: 'no Host header', bytes: () => head(['GET /api/whoami HTTP/1.1']), status: 400 },
  { name: 'bare LF line endings', bytes: () => `GET /api/whoami HTTP/1.1\n${host()}\n\n`, status: 400 },
  { name: 'raw space in the path', bytes: () => head(['GET /api/who ami HTTP/1.1', host()]), status: 400 },
  { name: 'encoded NUL in the path', bytes: () => head(['GET /api/who%00ami HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'asterisk-form request', bytes: () => head(['OPTIONS * HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'invalid percent-encoding', bytes: () => head(['GET /api/%zz HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'encoded slash', bytes: () => head(['GET /api/..%2fother/whoami HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'dot segments into another route', bytes: () => head(['GET /api/../other/whoami HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'encoded dot segments', bytes: () => head(['GET /api/%2e%2e/other/whoami HTTP/1.1', host()]), status: 400, error: 'bad_request' },
  { name: 'absolute-URI request', bytes: () => head([`GET http://${new URL(api.url).host}/api/v3/whoami HTTP/1.1`, host()]), status: 400, error: 'bad_request' },
  { name: 'CONNECT request', bytes: () => head(['CONNECT evil.example:443 HTTP/1.1', 'Host: evil.example:443']), status: 400, error: 'bad_request' },
  { name: 'CR inside a header value', bytes: () => head(['GET /api/whoami HTTP/1.1', host(), 'X-Evil: a\rAuthorization: Bearer stolen']), status: 400 },
  { name: 'LF inside a header value', bytes: () => head(['GET /api/whoami HTTP/1.1', host(), 'X-Evil: a\nTransfer-Encoding: chunked']), status: 400 },
  { name: 'NUL inside a header value', bytes: () => head(['GET /api/whoami HTTP/1.1', host(), 'X-Evil: a\u0000b']), status: 400 },
  { name: 'no route', bytes: () => head(['GET /nowhere/whoami HTTP/1.1', host()]), status: 404, error: 'no_route' },
];

describe('hostile input over raw sockets', () => {
  it.each(CASES)('$name → $status', async ({ bytes, status, error }) => {
    const apiRequests = api.stats.apiRequests + other.stats.apiRequests;
    const answer = await rawExchange(running.url, bytes());
    expect(rawStatus(answer), answer.slice(0, 200)).toBe(status);
    if (error !== undefined) {
      expect(errorCode(answer)).toBe(error);
      expect(answer).toMatch(/\r\ncontent-type: application\/json\r\n/i);
      expect(answer).toContain(`"error":"${error}"`);
    }
    // Nothing of it reached an upstream, and the sidecar still serves.
    expect(api.stats.apiRequests + other.stats.apiRequests).toBe(apiRequests);
    expect((await call(`${running.url}/api/whoami`)).status).toBe(200);
    expect(running.child.exitCode).toBeNull();
  });

  it('encoded CR/LF in the path stays encoded: no header is injected upstream', async () => {
    const answer = await call(`${running.url}/api/whoami%0d%0aX-Injected:%20yes?q=%0d%0aX-Also:%20yes`);
    expect(answer.status).toBe(200);
    const seen = answer.json as { path: string; headers: Record<string, unknown> };
    expect(seen.path).toBe('/api/v3/whoami%0d%0aX-Injected:%20yes?q=%0d%0aX-Also:%20yes');
    expect(Object.keys(seen.headers)).not.toContain('x-injected');
    expect(Object.keys(seen.headers)).not.toContain('x-also');
  });

  it('an app-supplied Authorization is replaced, and hop-by-hop headers are dropped', async () => {
    const answer = await rawExchange(running.url, head(['GET /api/whoami HTTP/1.1', host(), 'Authorization: Bearer app-made-this-up', 'Connection: close, X-Hop', 'X-Hop: 1', 'Proxy-Authorization: Basic eDp5']));
    expect(rawStatus(answer)).toBe(200);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, unknown> };
    expect(Object.keys(body.headers)).not.toContain('x-hop');
    expect(Object.keys(body.headers)).not.toContain('proxy-authorization');
  });

  it('pipelined requests on one connection each get their answer', async () => {
    const answer = await rawExchange(running.url, head(['GET /api/whoami HTTP/1.1', host()]) + head(['GET /nowhere HTTP/1.1', host()]) + head(['GET /api/whoami HTTP/1.1', host(), 'Connection: close']));
    expect([...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]))).toEqual([200, 404, 200]);
  });
});
