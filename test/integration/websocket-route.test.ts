// WebSocket upgrades get everything plain requests get (issue 13 point 3, issue 12 point 4):
// the route's token at the upgrade, one fresh-token retry after a 401, the route's timeouts,
// the same header hygiene, the gauge and requests_total (101), and shutdown closing them.
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { fastConfig, metric, routeFor, startSidecar, waitForStatus, type RunningSidecar } from '../faults/kit.js';

const IDLE_MS = 400;

/** A real WebSocket upstream that records each upgrade request's headers and forges a marker in its 101. */
class RecordingUpstream {
  readonly seen: IncomingHttpHeaders[] = [];
  readonly wss = new WebSocketServer({ noServer: true });
  readonly server: Server = createServer((_req, res) => res.writeHead(404).end());
  url = '';

  async start(): Promise<void> {
    this.wss.on('headers', (headers) => headers.push('x-token-sidecar-error: token_rejected'));
    this.wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo: ${String(data)}`)));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.seen.push(req.headers);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let covver: Emulator;
let upstream: RecordingUpstream;
let sidecar: RunningSidecar;
/** Accepts TCP and never answers the TLS handshake. */
const silentSockets = new Set<Socket>();
const silent = createNetServer((socket) => void silentSockets.add(socket));

beforeAll(async () => {
  covver = await startEmulator('covver');
  upstream = new RecordingUpstream();
  await upstream.start();
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  sidecar = await startSidecar(
    fastConfig(
      {
        covver: routeFor(covver),
        silent: routeFor(covver, { upstream: `https://127.0.0.1:${(silent.address() as { port: number }).port}` }),
        recording: { provider: 'covver', upstream: upstream.url, tokenUrl: covver.tokenUrl, refreshUrl: covver.refreshUrl, credentials: DEMO_CLIENTS.covver },
      },
      { timeouts: { idle: `${IDLE_MS}ms` } },
    ),
  );
  await waitForStatus(`${sidecar.url}/covver/whoami`);
});

afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
  for (const socket of silentSockets) socket.destroy();
  silent.close();
  await covver?.close();
});

type Opened = { ws: WebSocket; headers: IncomingHttpHeaders };

function open(url: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: 'Bearer the-apps-own', ...headers } });
    let answer: IncomingHttpHeaders = {};
    ws.once('upgrade', (res) => (answer = res.headers));
    ws.once('open', () => resolve({ ws, headers: answer }));
    ws.once('unexpected-response', (_req, res) => {
      const error = Object.assign(new Error(`upgrade answered ${res.statusCode}`), { status: res.statusCode, headers: res.headers });
      res.resume();
      reject(error);
    });
    ws.once('error', reject);
  });
}

function exchange(ws: WebSocket, message: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.send(message);
  });
}

const ws = (path: string) => `${sidecar.url.replace('http', 'ws')}${path}`;

describe('WebSocket upgrades through a route', () => {
  it("carries the route's token at the upgrade: the upstream authenticates the route's client, not the app's header", async () => {
    const { ws: socket } = await open(ws('/covver/ws'));
    expect(await exchange(socket, 'ping')).toBe(`${DEMO_CLIENTS.covver.clientId}: ping`);
    socket.close();
  });

  it("regression: the app's Proxy-Authorization and Connection-listed headers no longer reach the upstream at the upgrade", async () => {
    const before = upstream.seen.length;
    // node:http, not ws: ws would overwrite the Connection header that lists X-Listed.
    const { hostname, port } = new URL(sidecar.url);
    const req = httpRequest({
      host: hostname,
      port: Number(port),
      path: '/recording/socket',
      headers: {
        connection: 'Upgrade, X-Listed',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        authorization: 'Bearer the-apps-own',
        'proxy-authorization': 'Basic c2VjcmV0',
        'x-listed': 'leak',
        'x-kept': 'kept',
      },
    });
    req.end();
    const [res, socket] = (await once(req, 'upgrade')) as [IncomingMessage, Duplex];
    socket.destroy();
    expect(res.statusCode).toBe(101);
    const seen = upstream.seen[before] as IncomingHttpHeaders;
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-listed']).toBeUndefined();
    expect(seen['x-kept']).toBe('kept');
    expect(seen['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(seen.authorization).toMatch(/^Bearer /);
    expect(seen.authorization).not.toBe('Bearer the-apps-own');
    expect(seen.host).toBe(new URL(upstream.url).host);
    // ...and the upstream's forged marker in its 101 never reaches the app.
    expect(res.headers['x-token-sidecar-error']).toBeUndefined();
    expect(res.headers['sec-websocket-accept']).toBeDefined();
  });

  it('a WebSocket client through the recording upstream exchanges messages', async () => {
    const { ws: socket, headers } = await open(ws('/recording/socket'));
    expect(await exchange(socket, 'hi')).toBe('echo: hi');
    expect(headers['x-token-sidecar-error']).toBeUndefined();
    socket.close();
  });

  it('a 401 at the upgrade gets one fresh token and one retry', async () => {
    const retries = await metric(sidecar, 'token_sidecar_upstream_retries_total', { route: 'covver', reason: 'unauthorized' });
    const unauthorized = covver.stats.apiUnauthorized;
    const issued = covver.stats.issuedTokens;
    covver.expireAllAccessTokens();
    const { ws: socket } = await open(ws('/covver/ws'));
    expect(await exchange(socket, 'after 401')).toBe(`${DEMO_CLIENTS.covver.clientId}: after 401`);
    expect(covver.stats.apiUnauthorized).toBe(unauthorized + 1);
    expect(covver.stats.issuedTokens).toBe(issued + 1);
    expect(await metric(sidecar, 'token_sidecar_upstream_retries_total', { route: 'covver', reason: 'unauthorized' })).toBe(retries + 1);
    socket.close();
  });

  it('a 401 that survives the fresh token goes back to the app (one retry, no loop)', async () => {
    const unauthorized = covver.stats.apiUnauthorized;
    covver.injectApiFault({ fault: { kind: 'unauthorized' }, times: 5 });
    try {
      await expect(open(ws('/covver/ws'))).rejects.toMatchObject({ status: 401 });
      expect(covver.stats.apiUnauthorized).toBe(unauthorized + 2);
    } finally {
      covver.injectApiFault(undefined);
    }
  });

  it("an upstream that stalls the upgrade past timeouts.upstreamHeaders is answered 504 upstream_timeout (the route's pool settings apply)", async () => {
    covver.injectApiFault({ fault: { kind: 'stall' }, times: 1 });
    const started = performance.now();
    const refused = await open(ws('/covver/ws')).catch((error: { status?: number; headers?: IncomingHttpHeaders }) => error);
    expect(refused).toMatchObject({ status: 504, headers: { 'x-token-sidecar-error': 'upstream_timeout' } });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an upstream that never completes the TLS handshake is cut at timeouts.connect: 502 upstream_unavailable', async () => {
    const started = performance.now();
    const refused = await open(ws('/silent/ws')).catch((error: { status?: number; headers?: IncomingHttpHeaders }) => error);
    expect(refused).toMatchObject({ status: 502, headers: { 'x-token-sidecar-error': 'upstream_unavailable' } });
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect.poll(() => sidecar.logs.some((line) => line.event === 'request_failed' && line.route === 'silent' && String(line.detail).includes('CONNECT_TIMEOUT'))).toBe(true);
  });

  it("a non-101 answer goes back to the app as the upstream's", async () => {
    covver.injectApiFault({ fault: { kind: 'status', status: 403 }, times: 1 });
    await expect(open(ws('/covver/ws'))).rejects.toMatchObject({ status: 403 });
  });

  it('an open WebSocket stays open idle past timeouts.idle, like a direct one', async () => {
    const { ws: socket } = await open(ws('/covver/ws'));
    const opened = performance.now();
    await expect.poll(() => socket.readyState === WebSocket.OPEN && performance.now() - opened > 2.5 * IDLE_MS, { timeout: 10 * IDLE_MS, interval: 50 }).toBe(true);
    expect(await exchange(socket, 'still here')).toBe(`${DEMO_CLIENTS.covver.clientId}: still here`);
    socket.close();
  });

  it('counts open sockets in token_sidecar_websockets and the upgrade as code 101 in requests_total', async () => {
    const gauge = () => metric(sidecar, 'token_sidecar_websockets', { route: 'covver' });
    await expect.poll(gauge).toBe(0);
    const upgrades = await metric(sidecar, 'token_sidecar_requests_total', { route: 'covver', method: 'GET', code: '101' });
    const first = await open(ws('/covver/ws'));
    const second = await open(ws('/covver/ws'));
    await expect.poll(gauge).toBe(2);
    expect(await metric(sidecar, 'token_sidecar_requests_total', { route: 'covver', method: 'GET', code: '101' })).toBe(upgrades + 2);
    first.ws.close();
    await expect.poll(gauge).toBe(1);
    second.ws.terminate();
    await expect.poll(gauge).toBe(0);
  });
});

describe('WebSockets at shutdown', () => {
  it('SIGTERM during an upgrade handshake lets it finish like any request in flight, then closes the socket and exits 0', async () => {
    const own = await startSidecar(fastConfig({ covver: routeFor(covver) }, { shutdownGrace: '5s' }));
    try {
      await waitForStatus(`${own.url}/covver/whoami`);
      const before = covver.stats.apiRequests;
      covver.injectApiFault({ fault: { kind: 'delay', ms: 800 }, times: 1 });
      const opening = open(`${own.url.replace('http', 'ws')}/covver/ws`);
      await expect.poll(() => covver.stats.apiRequests).toBe(before + 1);
      const stopped = own.stop();
      const { ws: socket } = await opening;
      await once(socket, 'close');
      expect(await stopped).toBe(0);
    } finally {
      covver.injectApiFault(undefined);
      await own.stop();
    }
  });

  it('SIGTERM with an open WebSocket closes it and the process exits 0 within shutdownGrace', async () => {
    const own = await startSidecar(fastConfig({ covver: routeFor(covver) }, { shutdownGrace: '5s' }));
    try {
      const { ws: socket } = await open(`${own.url.replace('http', 'ws')}/covver/ws`);
      await expect.poll(() => metric(own, 'token_sidecar_websockets', { route: 'covver' })).toBe(1);
      const closed = once(socket, 'close');
      const started = performance.now();
      expect(await own.stop()).toBe(0);
      await closed;
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await own.stop();
    }
  });
});
