// The built sidecar's logs: JSON lines with level, time and a stable event (and the route when
// about one); one line per token request (token_refresh, token_refresh_failed or
// token_refresh_fallback) matching what the token endpoints saw; listening, stopping and stopped;
// access lines only when switched on; --log-level honoured; and no secret or token in any line.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulators/index.js';
import { CLI, startSidecar, waitFor, writeConfig, type RunningSidecar } from '../support/sidecar.js';
import { call, jsonStrings, looksLikeToken, mark, type Json } from './sidecar-kit.js';

const EVENTS = new Set([
  'listening', 'token_refresh', 'token_refresh_failed', 'token_refresh_fallback', 'secret_changed', 'request_failed',
  'access', 'signal', 'stopping', 'stopped', 'store_read_failed', 'store_write_failed', 'websocket_error',
]);
/** Events about one route: each line must name it. */
const ROUTE_EVENTS = new Set(['token_refresh', 'token_refresh_failed', 'token_refresh_fallback', 'secret_changed', 'request_failed', 'access', 'store_read_failed', 'store_write_failed']);
const LEVELS = ['debug', 'info', 'warn', 'error'];
const ROUTE_NAMES = ['covver', 'cobee', 'petje', 'light', 'light-key', 'wrong-secret', '_unmatched'];
const FAST = { refresh: { backoffInitial: '100ms', backoffMax: '400ms', rejectedRetry: '1h' }, timeouts: { token: '2s' } };

const secrets = {
  covver: mark('obs-covver-secret'),
  cobee: mark('obs-cobee-secret'),
  petje: mark('obs-petje-secret'),
  light: mark('obs-light-secret'),
  wrong: mark('obs-wrong-secret'),
  apiKey: mark('obs-light-api-key'),
};
const bootstrap: string[] = [];
const closers: Array<() => Promise<unknown>> = [];

interface Emulators {
  covver: Emulator;
  cobee: Emulator;
  petje: Emulator;
  light: Emulator;
}
let emulators: Emulators;

/** Each emulator accepts only a client with a distinctive secret. */
async function startOwnEmulators(): Promise<Emulators> {
  const client = (provider: string) => [{ clientId: `obs-${provider}`, clientSecret: secrets[provider as keyof typeof secrets] }];
  const started = {
    covver: await startEmulator('covver', { clients: client('covver') }),
    cobee: await startEmulator('cobee', { clients: client('cobee') }),
    petje: await startEmulator('petje', { clients: client('petje') }),
    light: await startEmulator('light', { clients: client('light'), apiKeys: [secrets.apiKey] }),
  };
  for (const emulator of Object.values(started)) closers.push(() => emulator.close());
  return started;
}

function route(emulator: Emulator, credentials: Json = {}): Json {
  const base: Json = { clientId: `obs-${emulator.provider}`, clientSecret: secrets[emulator.provider] };
  if (emulator.provider === 'petje' || emulator.provider === 'light') {
    base.refreshToken = emulator.issueRefreshToken(`obs-${emulator.provider}`);
    bootstrap.push(base.refreshToken as string);
  }
  return { provider: emulator.provider, upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials: { ...base, ...credentials } };
}

function lightKeyRoute(): Json {
  return { provider: 'light', upstream: emulators.light.apiUrl, tokenUrl: emulators.light.tokenUrl, credentials: { apiKey: secrets.apiKey } };
}

function routes(): Record<string, Json> {
  return {
    covver: route(emulators.covver),
    cobee: route(emulators.cobee),
    petje: route(emulators.petje),
    light: route(emulators.light),
    'light-key': lightKeyRoute(),
    'wrong-secret': route(emulators.covver, { clientId: 'obs-unknown-client', clientSecret: secrets.wrong }),
  };
}

async function sidecarWith(config: Json, args: string[] = []): Promise<RunningSidecar> {
  const running = await startSidecar({ ...FAST, ...config }, { args });
  closers.push(() => running.stop());
  return running;
}

/** Serves 200, polling while a start-up fetch (or its retries) is under way. */
async function serves(running: RunningSidecar, path: string): Promise<void> {
  await waitFor(async () => ((await call(`${running.url}${path}`)).status === 200 ? true : undefined), { what: `${path} to serve`, timeoutMs: 15_000 });
}

const lines = (running: RunningSidecar, event: string, where: Json = {}) =>
  running.logs.filter((line) => line.event === event && Object.entries(where).every(([key, value]) => line[key] === value));

/** Every secret, bootstrap refresh token and token-shaped string, wherever it hides in the output. */
function expectNoSecrets(output: string, logs: Array<Record<string, unknown>>): void {
  for (const secret of [...Object.values(secrets), ...bootstrap]) expect(output).not.toContain(secret);
  expect(output).not.toMatch(/Bearer /i);
  for (const line of logs) {
    for (const text of jsonStrings(line)) expect(looksLikeToken(text), `${text} in ${JSON.stringify(line)}`).toBe(false);
  }
  expect(looksLikeToken(output)).toBe(false);
}

beforeAll(async () => {
  emulators = await startOwnEmulators();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('a run at the default level, without access logs', () => {
  let running: RunningSidecar;
  let exitCode: number | null;

  beforeAll(async () => {
    // Two failed token requests before cobee's first success; covver's refresh grant will be rejected once.
    emulators.cobee.injectTokenFault({ fault: { kind: 'status', status: 500 }, times: 2 });
    running = await sidecarWith({ routes: routes() });
    for (const path of ['/covver/whoami', '/cobee/whoami', '/petje/whoami', '/light/whoami', '/light-key/whoami']) await serves(running, path);
    expect((await call(`${running.url}/wrong-secret/whoami`)).status).toBe(502);
    expect((await call(`${running.url}/nope/whoami`)).status).toBe(404);
    // A 401 makes covver refresh: its refresh grant is rejected (400), it falls back to client credentials.
    emulators.covver.injectTokenFault({ fault: { kind: 'status', status: 400 }, times: 1 });
    emulators.covver.injectApiFault({ fault: { kind: 'unauthorized' }, times: 1 });
    expect((await call(`${running.url}/covver/whoami`)).status).toBe(200);
    // A 401 makes light spend its rotated refresh token.
    emulators.light.injectApiFault({ fault: { kind: 'unauthorized' }, times: 1 });
    expect((await call(`${running.url}/light/whoami?access_token=${secrets.apiKey}`)).status).toBe(200);
    exitCode = await running.stop();
  });

  it('exits 0, and every line it printed (stdout and stderr) is a JSON log line with level, time and a known event', () => {
    expect(exitCode).toBe(0);
    const printed = running.output().split('\n').filter((line) => line.trim() !== '');
    expect(printed.length).toBe(running.logs.length);
    for (const line of running.logs) {
      const where = JSON.stringify(line);
      expect(LEVELS, where).toContain(line.level);
      expect(typeof line.time, where).toBe('string');
      expect(new Date(String(line.time)).toISOString(), where).toBe(line.time);
      expect(EVENTS, where).toContain(line.event);
      if (ROUTE_EVENTS.has(String(line.event))) expect(ROUTE_NAMES, where).toContain(line.route);
    }
  });

  it('starts with listening (both addresses) and ends with signal, stopping, stopped', () => {
    expect(running.logs[0]).toMatchObject({ level: 'info', event: 'listening', proxy: new URL(running.url).host, admin: new URL(running.adminUrl).host, routeListeners: {} });
    expect([...(running.logs[0]?.routes as string[])].sort()).toEqual(ROUTE_NAMES.filter((name) => name !== '_unmatched').sort());
    expect(running.logs.slice(-3).map((line) => line.event)).toEqual(['signal', 'stopping', 'stopped']);
    expect(running.logs.at(-3)).toMatchObject({ signal: 'SIGTERM' });
    expect(running.logs.at(-1)).toMatchObject({ outcome: 'drained' });
  });

  it('one line per token request: token_refresh per success (grant, result, durationMs, expiresAt), token_refresh_failed or _fallback per failure', () => {
    const byProvider = (provider: string, event: string) => running.logs.filter((line) => line.event === event && line.provider === provider).length;
    for (const emulator of Object.values(emulators) as Emulator[]) {
      const { provider, stats } = emulator;
      // token_refresh_fallback carries no provider: count it by route.
      const fallbacks = lines(running, 'token_refresh_fallback').filter((line) => (provider === 'covver' ? ['covver', 'wrong-secret'] : [provider]).includes(String(line.route))).length;
      expect(byProvider(provider, 'token_refresh'), provider).toBe(stats.issuedTokens);
      expect(byProvider(provider, 'token_refresh') + byProvider(provider, 'token_refresh_failed') + fallbacks, provider).toBe(stats.tokenRequests);
    }
    for (const line of lines(running, 'token_refresh')) {
      const where = JSON.stringify(line);
      expect(line, where).toMatchObject({ level: 'info', result: 'success', grant: expect.stringMatching(/^(client_credentials|refresh_token|authorization_code)$/) });
      expect(line.durationMs, where).toBeTypeOf('number');
      expect(line.durationMs as number, where).toBeGreaterThanOrEqual(0);
      expect(Date.parse(String(line.expiresAt)), where).toBeGreaterThan(Date.parse(String(line.time)));
    }
    expect(lines(running, 'token_refresh', { route: 'covver' }).map((line) => line.grant)).toEqual(['client_credentials', 'client_credentials']);
    expect(lines(running, 'token_refresh', { route: 'light' }).map((line) => line.grant)).toEqual(['refresh_token', 'refresh_token']);
    expect(lines(running, 'token_refresh', { route: 'petje' }).map((line) => line.grant)).toEqual(['refresh_token']);
    expect(lines(running, 'token_refresh_fallback', { route: 'covver' })).toEqual([expect.objectContaining({ level: 'warn', grant: 'refresh_token', reason: expect.any(String) })]);
  });

  it('a token_refresh_failed line per classified failure, with kind and reason', () => {
    expect(lines(running, 'token_refresh_failed', { route: 'cobee' })).toEqual([
      expect.objectContaining({ level: 'warn', kind: 'transient', reason: 'http_500', status: 500, grant: 'client_credentials', attempts: 1 }),
      expect.objectContaining({ level: 'warn', kind: 'transient', reason: 'http_500', status: 500, grant: 'client_credentials', attempts: 2 }),
    ]);
    expect(lines(running, 'token_refresh_failed', { route: 'wrong-secret' })).toEqual([
      expect.objectContaining({ level: 'error', kind: 'rejected', reason: expect.stringMatching(/\S/), status: 401, grant: 'client_credentials' }),
    ]);
    expect(lines(running, 'token_refresh_failed').length).toBe(3);
    expect(lines(running, 'request_failed', { route: 'wrong-secret' })).toEqual([expect.objectContaining({ level: 'warn', error: 'token_rejected' })]);
  });

  it('no access lines by default', () => {
    expect(lines(running, 'access')).toEqual([]);
  });

  it('no line holds a client secret, API key, refresh token or access token', () => {
    expectNoSecrets(running.output(), running.logs);
  });
});

describe('access log switched on', () => {
  it('one access line per request, with route, method, status and durationMs, and still no secrets', async () => {
    const running = await sidecarWith({ accessLog: true, routes: { covver: route(emulators.covver), 'light-key': lightKeyRoute() } });
    const sent: Array<{ route: string; method: string; status: number }> = [];
    const send = async (path: string, method = 'GET') => {
      const { status } = await call(`${running.url}${path}`, { method });
      const name = path.split('/')[1] ?? '';
      sent.push({ route: ['covver', 'light-key'].includes(name) ? name : '_unmatched', method, status });
      return status;
    };
    // Every request counts, the start-up polls included.
    for (const path of ['/covver/whoami', '/light-key/whoami']) await waitFor(async () => ((await send(path)) === 200 ? true : undefined), { what: `${path} to serve` });
    await send('/covver/whoami');
    await send(`/covver/items/1?token=${secrets.covver}`, 'POST');
    await send('/light-key/whoami', 'PROPFIND');
    await send('/nope/whoami');
    await send('/covver/status/503');
    expect(sent.slice(-5).map(({ status }) => status)).toEqual([200, 200, 200, 404, 503]);
    const access = await waitFor(() => {
      const found = lines(running, 'access');
      return found.length >= sent.length ? found : undefined;
    }, { what: 'an access line per request' });
    const order = (rows: Array<Record<string, unknown>>) => rows.map(({ route: name, method, status }) => `${String(name)} ${String(method)} ${String(status)}`).sort();
    expect(order(access)).toEqual(order(sent));
    for (const line of access) {
      expect(line).toMatchObject({ level: 'info', time: expect.any(String) });
      expect(line.durationMs).toBeTypeOf('number');
    }
    expect(await running.stop()).toBe(0);
    expect(lines(running, 'access').length).toBe(sent.length);
    expectNoSecrets(running.output(), running.logs);
  });
});

describe('--log-level warn', () => {
  it('prints warn and error lines only: no listening, token_refresh, signal, stopping or stopped', async () => {
    // Without the info `listening` line the test kit cannot learn the ports, so run the CLI directly
    // and wait for the start-up fetches' failure lines, which are warn (a 500) and error (rejected).
    emulators.cobee.injectTokenFault({ fault: { kind: 'status', status: 500 }, times: 1 });
    const before = { covver: emulators.covver.stats.issuedTokens, cobee: emulators.cobee.stats.issuedTokens };
    const wrong = route(emulators.covver, { clientId: 'obs-unknown-client', clientSecret: secrets.wrong });
    const configFile = await writeConfig({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', ...FAST, routes: { covver: route(emulators.covver), cobee: route(emulators.cobee), 'wrong-secret': wrong } });
    const child = spawn(process.execPath, [CLI, '--config', configFile, '--log-level', 'warn']);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    closers.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(configFile, { force: true });
    });
    const parsed = () => output.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
    await waitFor(() => {
      const events = parsed().map((line) => `${String(line.route)}:${String(line.event)}`);
      const done = events.includes('cobee:token_refresh_failed') && events.includes('wrong-secret:token_refresh_failed') && emulators.covver.stats.issuedTokens > before.covver;
      return done ? true : undefined;
    }, { what: 'the start-up token fetches' });
    // cobee's retry succeeds after its backoff (an info line, not printed).
    await waitFor(() => (emulators.cobee.stats.issuedTokens > before.cobee ? true : undefined), { what: "cobee's retry" });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const logs = parsed();
    expect(logs.map((line) => `${String(line.level)} ${String(line.route)} ${String(line.event)}`)).toEqual([
      expect.stringMatching(/^(warn cobee|error wrong-secret) token_refresh_failed$/),
      expect.stringMatching(/^(warn cobee|error wrong-secret) token_refresh_failed$/),
    ]);
    expectNoSecrets(output, logs);
  });
});
