import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY } from './demo-credentials.js';
import type { Dialect } from './dialect.js';
import type { EmulatedProvider, EmulatorOptions } from './types.js';

export interface ResolvedOptions {
  host: string;
  port: number;
  lifetimeSeconds: number;
  omitExpiresIn: boolean;
  tls: EmulatorOptions['tls'];
  clients: ReadonlyMap<string, string>;
  defaultClientId: string;
  apiKeys: ReadonlySet<string>;
  now: () => number;
}

export function checkLifetime(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new RangeError(`lifetimeSeconds must be a non-negative integer, got ${String(seconds)}`);
  }
  return seconds;
}

/** Defaults filled in and mistakes rejected up front, with the option named. */
export function resolveOptions(dialect: Dialect, options: EmulatorOptions): ResolvedOptions {
  const { provider } = dialect;
  const demo = dialect.demoClient ?? DEMO_CLIENTS[provider as EmulatedProvider];
  const clients = options.clients ?? (demo === undefined ? [] : [demo]);
  const first = clients[0];
  if (first === undefined) throw new RangeError('clients must list at least one client');
  if (options.apiKeys !== undefined && provider !== 'light') {
    throw new TypeError(`apiKeys is a Light option; the ${provider} API accepts only Bearer tokens`);
  }
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    lifetimeSeconds: checkLifetime(options.lifetimeSeconds ?? dialect.defaultLifetimeSeconds),
    omitExpiresIn: options.omitExpiresIn ?? false,
    tls: options.tls,
    clients: new Map(clients.map((client) => [client.clientId, client.clientSecret])),
    defaultClientId: first.clientId,
    apiKeys: new Set(provider === 'light' ? (options.apiKeys ?? [DEMO_LIGHT_API_KEY]) : []),
    now: options.now ?? Date.now,
  };
}
