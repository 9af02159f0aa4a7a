import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulator, type Emulator } from '../../src/emulators/index.js';
import { call, ManualClock } from './kit.js';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe("the emulated APIs send the providers' documented rate-limit headers", () => {
  it('Light: X-RateLimit-* with the reset as a Unix time, 300 a minute per key, then 429 with Retry-After', async () => {
    const clock = new ManualClock();
    emulator = await startEmulator('light', { now: clock.now, rateLimit: 'enforce' });
    const key = { authorization: `Basic ${DEMO_LIGHT_API_KEY}` };
    const windowEnd = Math.floor(clock.ms / 1000) + 60;
    const first = await call(`${emulator.apiUrl}/whoami`, { headers: key });
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('300');
    expect(first.headers['x-ratelimit-remaining']).toBe('299');
    expect(first.headers['x-ratelimit-reset']).toBe(String(windowEnd));
    for (let i = 2; i <= 300; i += 1) await call(`${emulator.apiUrl}/whoami`, { headers: key });
    clock.advance(20_000);
    const over = await call(`${emulator.apiUrl}/whoami`, { headers: key });
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBe('40');
    expect(over.headers['x-ratelimit-remaining']).toBe('0');
    clock.advance(40_000);
    const next = await call(`${emulator.apiUrl}/whoami`, { headers: key });
    expect(next.status).toBe(200);
    expect(next.headers['x-ratelimit-remaining']).toBe('299');
  });

  it('Cobee: x-ratelimit-limit/-remaining/-reset with the reset in seconds from now', async () => {
    const clock = new ManualClock();
    emulator = await startEmulator('cobee', { now: clock.now });
    const token = await call(emulator.tokenUrl, { body: JSON.stringify(DEMO_CLIENTS.cobee), headers: { 'content-type': 'application/json' } });
    const bearer = { authorization: `Bearer ${(token.json as { accessToken: string }).accessToken}` };
    const first = await call(`${emulator.apiUrl}/whoami`, { headers: bearer });
    expect(first.headers['x-ratelimit-remaining']).toBe('999');
    expect(first.headers['x-ratelimit-reset']).toBe('60');
    clock.advance(15_000);
    const second = await call(`${emulator.apiUrl}/whoami`, { headers: bearer });
    expect(second.headers['x-ratelimit-remaining']).toBe('998');
    expect(second.headers['x-ratelimit-reset']).toBe('45');
  });

  it('Covver and Petje document no limit and send no rate-limit headers', async () => {
    emulator = await startEmulator('covver');
    const answer = await call(`${emulator.apiUrl}/whoami`);
    expect(answer.headers['x-ratelimit-remaining']).toBeUndefined();
  });
});
