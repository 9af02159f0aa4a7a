import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { bearer, body, call, postJson, refusedUpgrade } from './kit.js';

describe('API faults', () => {
  let covver: Emulator;
  let auth: Record<string, string>;
  const me = () => call(`${covver.apiUrl}/me`, { headers: auth });
  beforeEach(async () => {
    covver = await startEmulator('covver');
    auth = bearer(body(await postJson(covver.tokenUrl, DEMO_CLIENTS.covver)).accessToken);
  });
  afterEach(() => covver.close());

  it('status: answers that status with a small JSON body, whatever the token', async () => {
    covver.injectApiFault({ fault: { kind: 'status', status: 503 }, times: 1 });
    const answer = await me();
    expect([answer.status, answer.text]).toEqual([503, '{"status":503}']);
    expect((await me()).status).toBe(200);
    expect(covver.stats).toMatchObject({ apiRequests: 2, apiAuthorized: 1, apiUnauthorized: 0 });
  });

  it('unauthorized: 401 even to a valid token, counted as unauthorized', async () => {
    covver.injectApiFault({ fault: { kind: 'unauthorized' }, times: 1 });
    const answer = await me();
    expect([answer.status, answer.text]).toEqual([401, '{"message":"Unauthorized"}']);
    expect((await me()).status).toBe(200);
    expect(covver.stats).toMatchObject({ apiRequests: 2, apiAuthorized: 1, apiUnauthorized: 1 });
  });

  it('stall: never sends headers', async () => {
    covver.injectApiFault({ fault: { kind: 'stall' } });
    await expect(call(`${covver.apiUrl}/me`, { headers: auth, signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('resetMidBody: sends headers and part of the body, then drops the connection', async () => {
    covver.injectApiFault({ fault: { kind: 'resetMidBody' }, times: 1 });
    const answer = await request(`${covver.apiUrl}/me`, { headers: auth });
    expect(answer.statusCode).toBe(200);
    await expect(answer.body.text()).rejects.toThrow();
    expect((await me()).status).toBe(200);
  });

  it('delay: answers normally after the delay', async () => {
    covver.injectApiFault({ fault: { kind: 'delay', ms: 40 }, times: 1 });
    const started = performance.now();
    expect((await me()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('delay still checks the token afterwards', async () => {
    covver.injectApiFault({ fault: { kind: 'delay', ms: 1 } });
    expect((await call(`${covver.apiUrl}/me`)).status).toBe(401);
  });

  it('applies to WebSocket upgrades too', async () => {
    const url = `${covver.apiUrl.replace('http', 'ws')}/ws`;
    covver.injectApiFault({ fault: { kind: 'status', status: 503 }, times: 1 });
    expect(await refusedUpgrade(url, auth)).toBe('Unexpected server response: 503');
    covver.injectApiFault({ fault: { kind: 'unauthorized' }, times: 1 });
    expect(await refusedUpgrade(url, auth)).toBe('Unexpected server response: 401');
    expect(covver.stats.apiUnauthorized).toBe(1);
  });

  it('token faults do not touch the API and API faults do not touch the token endpoint', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    expect((await me()).status).toBe(200);
    covver.injectTokenFault(undefined);
    covver.injectApiFault({ fault: { kind: 'status', status: 500 } });
    expect((await postJson(covver.tokenUrl, DEMO_CLIENTS.covver)).status).toBe(200);
  });

  it('close() ends a stalled request promptly', async () => {
    covver.injectApiFault({ fault: { kind: 'stall' } });
    const settled = me().then(() => 'answered', () => 'failed');
    await vi.waitFor(() => expect(covver.stats.apiRequests).toBe(1));
    const started = performance.now();
    await covver.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await settled).toBe('failed');
  });
});
