import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { DEMO_CLIENTS, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { body, call, postForm, postJson } from './kit.js';

const credentials = DEMO_CLIENTS.covver;

describe('token faults', () => {
  let covver: Emulator;
  const fetchToken = () => postJson(covver.tokenUrl, credentials);
  beforeEach(async () => {
    covver = await startEmulator('covver');
  });
  afterEach(() => covver.close());

  it('status: answers the status with a body in the provider error shape', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 500 } });
    const answer = await fetchToken();
    expect(answer.status).toBe(500);
    expect(body(answer)).toEqual({
      message: 'Internal Server Error',
      errorCode: 'INTERNAL_SERVER_ERROR',
      error: 'Internal Server Error',
      statusCode: 500,
    });
    expect(covver.stats).toMatchObject({ tokenRequests: 1, issuedTokens: 0 });
  });

  it('status: sends a given body and headers verbatim (429 + retry-after)', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 429, body: '{"slow":"down"}', headers: { 'retry-after': '7' } } });
    const answer = await fetchToken();
    expect([answer.status, answer.text, answer.headers['retry-after']]).toEqual([429, '{"slow":"down"}', '7']);
  });

  it('status: a caller-given Content-Type replaces the JSON one', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 502, body: '<h1>Bad gateway</h1>', headers: { 'Content-Type': 'text/html' } } });
    const answer = await fetchToken();
    expect([answer.status, answer.headers['content-type'], answer.text]).toEqual([502, 'text/html', '<h1>Bad gateway</h1>']);
  });

  it('refuses fault parameters that could only fail inside a request', () => {
    expect(() => covver.injectTokenFault({ fault: { kind: 'status', status: 99 } })).toThrow(RangeError);
    expect(() => covver.injectTokenFault({ fault: { kind: 'delay', ms: -1 } })).toThrow(RangeError);
    expect(() => covver.injectTokenFault({ fault: { kind: 'huge', bytes: -1 } })).toThrow(RangeError);
    expect(() => covver.injectApiFault({ fault: { kind: 'status', status: 600 } })).toThrow(RangeError);
  });

  it('times: the fault applies to the next n requests, then clears itself', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 503 }, times: 2 });
    expect((await fetchToken()).status).toBe(503);
    expect((await fetchToken()).status).toBe(503);
    expect((await fetchToken()).status).toBe(200);
    expect(covver.stats).toMatchObject({ tokenRequests: 3, issuedTokens: 1 });
  });

  it('without times the fault stays until cleared with undefined', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 502 } });
    expect((await fetchToken()).status).toBe(502);
    expect((await fetchToken()).status).toBe(502);
    covver.injectTokenFault(undefined);
    expect((await fetchToken()).status).toBe(200);
  });

  it('refuses times that are not a positive integer', () => {
    expect(() => covver.injectTokenFault({ fault: { kind: 'hang' }, times: 0 })).toThrow(RangeError);
    expect(() => covver.injectTokenFault({ fault: { kind: 'hang' }, times: 1.5 })).toThrow(RangeError);
  });

  it('delay: answers normally after the delay', async () => {
    covver.injectTokenFault({ fault: { kind: 'delay', ms: 40 }, times: 1 });
    const started = performance.now();
    const answer = await fetchToken();
    expect(answer.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('delay: outlasts a client timeout', async () => {
    covver.injectTokenFault({ fault: { kind: 'delay', ms: 60_000 } });
    const pending = call(covver.tokenUrl, {
      body: JSON.stringify(credentials),
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(500),
    });
    // The request arrives and is held well within the client's timeout, which it then outlasts.
    await expect.poll(() => covver.stats.tokenRequests, { interval: 2 }).toBe(1);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('hang: never answers; close() ends it promptly', async () => {
    covver.injectTokenFault({ fault: { kind: 'hang' } });
    const pending = fetchToken();
    const settled = pending.then(() => 'answered', () => 'failed');
    await vi.waitFor(() => expect(covver.stats.byGrant.client_credentials).toBe(1));
    const started = performance.now();
    await covver.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await settled).toBe('failed');
  });

  it('reset: drops the connection without an answer', async () => {
    covver.injectTokenFault({ fault: { kind: 'reset' }, times: 1 });
    await expect(fetchToken()).rejects.toThrow();
    expect((await fetchToken()).status).toBe(200);
  });

  it('html: a 200 text/html page', async () => {
    covver.injectTokenFault({ fault: { kind: 'html' } });
    const answer = await fetchToken();
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(answer.text).toMatch(/^<!DOCTYPE html>/);
  });

  it('garbage: a 200 application/json body that is not JSON', async () => {
    covver.injectTokenFault({ fault: { kind: 'garbage' } });
    const answer = await fetchToken();
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.json).toBeUndefined();
  });

  it('huge: a valid token answer padded to exactly the size asked', async () => {
    covver.injectTokenFault({ fault: { kind: 'huge', bytes: 3_000_000 } });
    const answer = await fetchToken();
    expect(answer.status).toBe(200);
    expect(Buffer.byteLength(answer.text)).toBe(3_000_000);
    expect(answer.headers['content-length']).toBe('3000000');
    const tokens = body(answer);
    expect(typeof tokens.accessToken).toBe('string');
    expect(String(tokens.padding).length).toBeGreaterThan(2_999_000);
  });

  it('nullToken: a 200 whose access token field is null, the rest intact', async () => {
    covver.injectTokenFault({ fault: { kind: 'nullToken' }, times: 1 });
    const tokens = body(await fetchToken());
    expect(tokens).toMatchObject({ accessToken: null, expiresIn: 600, refreshToken: expect.any(String) });
  });

  it('expiresIn: sets expiresIn to any value', async () => {
    covver.injectTokenFault({ fault: { kind: 'expiresIn', value: -5 }, times: 1 });
    expect(body(await fetchToken()).expiresIn).toBe(-5);
    covver.injectTokenFault({ fault: { kind: 'expiresIn', value: 'abc' }, times: 1 });
    expect(body(await fetchToken()).expiresIn).toBe('abc');
  });

  it('body faults leave an error answer unchanged', async () => {
    covver.injectTokenFault({ fault: { kind: 'nullToken' }, times: 1 });
    const answer = await postJson(covver.tokenUrl, { ...credentials, clientSecret: 'wrong' });
    expect(answer.status).toBe(401);
    expect(body(answer)).toMatchObject({ errorCode: 'INVALID_CLIENT_CREDENTIALS' });
  });

  it('applies to the refresh path too, and counts faulted requests', async () => {
    covver.injectTokenFault({ fault: { kind: 'status', status: 500 }, times: 1 });
    const refresh = await postJson(covver.refreshUrl, { grantType: 'refreshToken', refreshToken: covver.issueRefreshToken() });
    expect(refresh.status).toBe(500);
    expect(covver.stats).toMatchObject({ tokenRequests: 1, byGrant: { refresh_token: 1 }, issuedTokens: 0 });
  });
});

describe('token faults on dialects with rotation and snake_case', () => {
  it('petje: expiresIn and nullToken spoil the snake_case fields', async () => {
    const petje = await startEmulator('petje');
    try {
      const { clientId, clientSecret } = DEMO_CLIENTS.petje;
      const refresh = () =>
        postForm(petje.tokenUrl, { grant_type: 'refresh_token', refresh_token: petje.issueRefreshToken(), client_id: clientId, client_secret: clientSecret });
      petje.injectTokenFault({ fault: { kind: 'expiresIn', value: -5 }, times: 1 });
      expect(body(await refresh())).toMatchObject({ expires_in: -5, token_type: 'Bearer' });
      petje.injectTokenFault({ fault: { kind: 'nullToken' }, times: 1 });
      expect(body(await refresh())).toMatchObject({ access_token: null, refresh_token: expect.any(String) });
    } finally {
      await petje.close();
    }
  });

  it('light: a transport fault does not run the grant, so the refresh token is not spent', async () => {
    const light = await startEmulator('light');
    try {
      const { clientId, clientSecret } = DEMO_CLIENTS.light;
      const refreshToken = light.issueRefreshToken();
      const refresh = () => postForm(light.tokenUrl, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: clientSecret });
      light.injectTokenFault({ fault: { kind: 'status', status: 503 }, times: 1 });
      const failed = await refresh();
      expect(failed.status).toBe(503);
      expect(failed.headers['content-type']).toBe('application/json;charset=UTF-8');
      expect(body(failed)).toMatchObject({ error: 'temporarily_unavailable' });
      expect((await refresh()).status).toBe(200);
    } finally {
      await light.close();
    }
  });

  it('light: a delayed request the client abandoned is dropped, so its refresh token is not spent', async () => {
    const light = await startEmulator('light');
    try {
      const { clientId, clientSecret } = DEMO_CLIENTS.light;
      const refreshToken = light.issueRefreshToken();
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: clientSecret });
      const refresh = (signal?: AbortSignal) =>
        call(light.tokenUrl, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(signal ? { signal } : {}) });
      light.injectTokenFault({ fault: { kind: 'delay', ms: 100 }, times: 2 });
      // Abandon the first request only once the emulator holds it (a fixed client timeout could
      // fire before the request arrives on a loaded machine).
      const controller = new AbortController();
      const abandoned = refresh(controller.signal);
      await expect.poll(() => light.stats.tokenRequests, { interval: 2 }).toBe(1);
      controller.abort();
      await expect(abandoned).rejects.toThrow();
      // The second delay ends after the first, so by now the abandoned request has been dropped.
      const answer = await refresh();
      expect(answer.status).toBe(200);
      expect(light.stats).toMatchObject({ tokenRequests: 2, issuedTokens: 1 });
    } finally {
      await light.close();
    }
  });

  it('serves TLS faults over HTTPS as well (reset falls back to a plain close)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { Agent } = await import('undici');
    const dir = new URL('./fixtures/', import.meta.url);
    const [key, cert] = await Promise.all([readFile(new URL('localhost-key.pem', dir)), readFile(new URL('localhost-cert.pem', dir))]);
    const covver = await startEmulator('covver', { tls: { key, cert } });
    const dispatcher = new Agent({ connect: { ca: cert } });
    try {
      covver.injectTokenFault({ fault: { kind: 'reset' }, times: 1 });
      const post = () =>
        request(covver.tokenUrl, { method: 'POST', dispatcher, body: JSON.stringify(credentials), headers: { 'content-type': 'application/json' } });
      await expect(post()).rejects.toThrow();
      const answer = await post();
      expect(answer.statusCode).toBe(200);
      await answer.body.dump();
    } finally {
      await dispatcher.close();
      await covver.close();
    }
  });
});
