// An in-process TokenProvider on a fake clock against a real emulator: the kit of the token
// lifecycle unit tests.
import { Agent } from 'undici';
import { expect } from 'vitest';
import { validateConfig, type SidecarConfig } from '../../src/config/load.js';
import { DEMO_CLIENTS, startEmulator, type EmulatedProvider, type Emulator } from '../../src/emulators/index.js';
import type { SidecarError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { TokenClient } from '../../src/token/client.js';
import { TokenProvider } from '../../src/token/provider.js';
import { MemoryStore, type TokenStore } from '../../src/token/store.js';
import { FakeClock } from './fake-clock.js';

export interface ProviderSetup {
  provider: TokenProvider;
  emulator: Emulator;
  clock: FakeClock;
  metrics: ReturnType<typeof createMetrics>;
  config: SidecarConfig;
  /** Log lines by event name (the token lifecycle's events). */
  events: Array<Record<string, unknown>>;
}

export interface ProviderOptions {
  lifetimeSeconds?: number;
  store?: TokenStore;
  refresh?: Record<string, unknown>;
  extraRoutes?: (emulator: Emulator) => Record<string, unknown>;
  maxEntries?: number;
  requestWait?: number;
}

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } as unknown as Logger;

/** Starts an emulator and a provider for one route of `kind`; `cleanups` receives their teardown. */
export async function setupProvider(kind: EmulatedProvider, cleanups: Array<() => unknown>, options: ProviderOptions = {}): Promise<ProviderSetup> {
  const [replica] = (await setupFleet(kind, cleanups, [options.store ?? new MemoryStore()], options)).replicas;
  return replica as ProviderSetup;
}

export interface FleetSetup {
  emulator: Emulator;
  clock: FakeClock;
  config: SidecarConfig;
  /** One provider per store given, in that order: replicas of one app, on one clock and one emulator. */
  replicas: ProviderSetup[];
}

/** Starts one emulator and a provider per store (the replicas of one app sharing the route's grant). */
export async function setupFleet(kind: EmulatedProvider, cleanups: Array<() => unknown>, stores: readonly TokenStore[], options: Omit<ProviderOptions, 'store'> = {}): Promise<FleetSetup> {
  const clock = new FakeClock();
  const emulator = await startEmulator(kind, { lifetimeSeconds: options.lifetimeSeconds ?? 100, now: () => clock.now() });
  cleanups.push(() => emulator.close());
  const credentials = kind === 'light' || kind === 'petje' ? { ...DEMO_CLIENTS[kind], refreshToken: emulator.issueRefreshToken() } : DEMO_CLIENTS[kind];
  const config = validateConfig({
    refresh: { eager: false, backoffInitial: '1s', backoffMax: '32s', rejectedRetry: '5m', ...options.refresh },
    cache: { maxEntries: options.maxEntries ?? 1000 },
    routes: { [kind]: { provider: kind, upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials }, ...options.extraRoutes?.(emulator) },
  });
  const agent = new Agent();
  cleanups.push(() => agent.close());
  const replicas = stores.map((store): ProviderSetup => {
    const metrics = createMetrics(undefined, { defaultMetrics: false });
    const events: Array<Record<string, unknown>> = [];
    const record = (line: Record<string, unknown>) => void events.push(line);
    const logger = { debug: record, info: record, warn: record, error: record, child() { return this; } } as unknown as Logger;
    const provider = new TokenProvider({
      routes: config.routes,
      client: new TokenClient({ timeoutMs: 2_000, now: () => clock.now() }),
      dispatcherFor: () => agent,
      store,
      clock,
      metrics,
      logger,
      settings: { ...config.refresh, maxEntries: config.cache.maxEntries, requestWait: options.requestWait ?? 2_000, lockWait: 5_000 },
      random: () => 1,
      watch: () => () => undefined,
    });
    cleanups.push(() => provider.stop());
    return { provider, emulator, clock, metrics, config, events };
  });
  return { emulator, clock, config, replicas };
}

/** Waits (in real time, polling) until no token request is in flight. */
export async function settled(provider: TokenProvider): Promise<void> {
  await expect.poll(() => provider.states().some((state) => state.refreshing), { timeout: 5_000, interval: 5 }).toBe(false);
}

/** The provider answers synchronously on a hit; tests always see a promise. */
export async function authorizationOf(provider: TokenProvider, route: string) {
  return provider.authorization(route);
}

export async function errorOf(promise: Promise<unknown>): Promise<SidecarError> {
  try {
    await promise;
  } catch (error) {
    return error as SidecarError;
  }
  throw new Error('expected a failure');
}
