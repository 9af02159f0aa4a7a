// A hostile token endpoint against the built sidecar: a real HTTP server on 127.0.0.1 port 0
// answers each route's token request with one entry of the corpus. A token that cannot be a
// header, or of another type, is a malformed answer: never cached, never injected, 503
// token_unavailable, /readyz naming the route failing with reason `malformed`. An error code that
// reflects the client secret is not a code, and the secret appears in no log line and no /readyz.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, Cleanup, fastConfig, readyz, sidecarError, startSidecar, waitFor, waitForRouteState, type RunningSidecar } from './kit.js';

const SECRET = 'hostile-client-secret-41c9e07d';

/** Each route's token answer, by the path its tokenUrl names; `reflect` echoes the sent form fields. */
const CORPUS: Record<string, (form: URLSearchParams) => { status: number; body: unknown }> = {
  crlf: () => ({ status: 200, body: { access_token: 'tok\r\nX-Injected: yes', token_type: 'Bearer', expires_in: 600 } }),
  nul: () => ({ status: 200, body: { access_token: 'tok\u0000en', expires_in: 600 } }),
  unicode: () => ({ status: 200, body: { access_token: 'tok\u2603en', expires_in: 600 } }),
  huge: () => ({ status: 200, body: { access_token: 'a'.repeat(1_000_000), token_type: 'Bearer', expires_in: 600 } }),
  mac: () => ({ status: 200, body: { access_token: 'tok', token_type: 'mac', expires_in: 600 } }),
  dpop: () => ({ status: 200, body: { access_token: 'tok', token_type: 'DPoP', expires_in: 600 } }),
  na: () => ({ status: 200, body: { access_token: 'tok', token_type: 'N_A', expires_in: 600 } }),
  typereflect: (form) => ({ status: 200, body: { access_token: 'tok', token_type: `mac ${form.get('client_secret') ?? ''}`, expires_in: 600 } }),
  codereflect: (form) => ({ status: 400, body: { error: form.get('client_secret'), error_description: `bad secret ${form.get('client_secret') ?? ''}` } }),
};
const MALFORMED = ['crlf', 'nul', 'unicode', 'huge', 'mac', 'dpop', 'na', 'typereflect'];

const cleanup = new Cleanup();
let tokenServer: Server;
let api: Emulator;
let running: RunningSidecar;
const tokenRequests: Record<string, number> = {};

beforeAll(async () => {
  tokenServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const name = (req.url ?? '').slice(1);
      tokenRequests[name] = (tokenRequests[name] ?? 0) + 1;
      const answer = CORPUS[name]?.(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) ?? { status: 404, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  cleanup.add(tokenServer, (server) => new Promise((resolve) => server.close(resolve)));
  const base = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}`;
  api = cleanup.add(await startEmulator('cobee'), (started) => started.close());
  const routes = Object.fromEntries(
    Object.keys(CORPUS).map((name) => [
      name,
      { provider: 'oauth2', clientAuth: 'client_secret_post', upstream: api.apiUrl, tokenUrl: `${base}/${name}`, credentials: { clientId: `client-${name}`, clientSecret: '${env:HOSTILE_SECRET}' } },
    ]),
  );
  running = cleanup.add(await startSidecar(fastConfig(routes), { env: { HOSTILE_SECRET: SECRET }, args: ['--log-level', 'debug'] }), (started) => started.stop());
  await waitForRouteState(running, 'failing', MALFORMED);
  await waitForRouteState(running, 'rejected', ['codereflect']);
});
afterAll(() => cleanup.run());

describe('a hostile token endpoint', () => {
  it.each(MALFORMED)('%s: 503 token_unavailable, /readyz failing with reason malformed, nothing forwarded', async (name) => {
    const before = api.stats.apiRequests;
    const started = performance.now();
    const answer = await call(`${running.url}/${name}/whoami`);
    expect(answer.status).toBe(503);
    expect(sidecarError(answer)).toBe('token_unavailable');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(api.stats.apiRequests).toBe(before);
    const state = ((await readyz(running)).json?.routes as Array<{ route: string }>).find((entry) => entry.route === name);
    expect(state).toMatchObject({ state: 'failing', reason: 'malformed' });
    expect(state).not.toHaveProperty('validUntil');
  });

  it('names the refused token_type in the log line', () => {
    const messages = running.logs.filter((line) => line.event === 'token_refresh_failed').map((line) => String(line.msg));
    for (const type of ['"mac"', '"DPoP"', '"N_A"']) expect(messages.some((message) => message.includes(`got ${type}`))).toBe(true);
    expect(messages.some((message) => message.includes('over refresh.maxTokenSize (16384)'))).toBe(true);
    expect(messages.some((message) => message.includes('"mac [redacted]"'))).toBe(true);
  });

  it('an error code reflecting the client secret is reported as http_400 (rejected), and the secret is shown nowhere', async () => {
    const answer = await call(`${running.url}/codereflect/whoami`);
    expect(answer.status).toBe(502);
    expect(sidecarError(answer)).toBe('token_rejected');
    const ready = await readyz(running);
    expect((ready.json?.routes as Array<{ route: string }>).find((entry) => entry.route === 'codereflect')).toMatchObject({ state: 'rejected', reason: 'http_400' });
    expect(ready.text).not.toContain(SECRET);
    expect(answer.text).not.toContain(SECRET);
    expect(running.output()).not.toContain(SECRET);
  });

  it('a malformed answer is transient: tried again on the backoff, and the process stays whole after a 1 MB token', async () => {
    await waitFor(() => ((tokenRequests.huge ?? 0) >= 2 && (tokenRequests.mac ?? 0) >= 2 ? true : undefined), { what: 'second token requests' });
    expect(running.child.exitCode).toBeNull();
  });
});
