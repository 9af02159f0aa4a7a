import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulator, type Emulator, type EmulatorOptions } from '../emulators/index.js';
import { UsageError } from './authorize.js';

export interface EmulateOptions {
  /** Port of the first emulator; the next ones take the ports after it. 0: any free ports. */
  readonly port: number;
  readonly lifetimeSeconds: number | undefined;
  readonly host?: string;
}

/** What one running emulator offers an app: its URLs and the demo credentials it accepts. */
export interface EmulatorListing {
  readonly provider: string;
  readonly tokenUrl: string;
  readonly refreshUrl: string;
  readonly apiUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** A fresh refresh token to bootstrap with (providers whose first grant comes from a consent). */
  readonly refreshToken?: string;
  /** Light: the static API key sent as `Authorization: Basic <apiKey>`. */
  readonly apiKey?: string;
}

export interface RunningEmulators {
  readonly listings: readonly EmulatorListing[];
  close(): Promise<void>;
}

const BUILT_IN = ['covver', 'cobee', 'petje', 'light'] as const;

function listing(emulator: Emulator, clientId: string, clientSecret: string): EmulatorListing {
  const consent = emulator.provider === 'petje' || emulator.provider === 'light';
  return {
    provider: emulator.provider,
    tokenUrl: emulator.tokenUrl,
    refreshUrl: emulator.refreshUrl,
    apiUrl: emulator.apiUrl,
    clientId,
    clientSecret,
    ...(consent ? { refreshToken: emulator.issueRefreshToken() } : {}),
    ...(emulator.provider === 'light' ? { apiKey: DEMO_LIGHT_API_KEY } : {}),
  };
}

/** Starts the four built-in emulators one after the other on consecutive ports (or free ones). */
export async function startEmulate(options: EmulateOptions): Promise<RunningEmulators> {
  const count = BUILT_IN.length;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port + count - 1 > 65535) {
    throw new UsageError(`--port: expected 0 (any free ports) or a port up to ${65536 - count} (the emulators take ${count} ports from it), got ${options.port}`);
  }
  if (options.lifetimeSeconds !== undefined && (!Number.isInteger(options.lifetimeSeconds) || options.lifetimeSeconds < 1)) {
    throw new UsageError(`--lifetime: expected a whole number of seconds, at least 1, got ${options.lifetimeSeconds}`);
  }
  const started: Emulator[] = [];
  const close = async () => {
    await Promise.all(started.map((emulator) => emulator.close()));
  };
  try {
    for (const [index, provider] of BUILT_IN.entries()) {
      const emulatorOptions: EmulatorOptions = {
        host: options.host ?? '127.0.0.1',
        port: options.port === 0 ? 0 : options.port + index,
        ...(options.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.lifetimeSeconds }),
      };
      started.push(await startEmulator(provider, emulatorOptions));
    }
  } catch (error) {
    await close();
    throw error;
  }
  const listings = started.map((emulator) => {
    const client = DEMO_CLIENTS[emulator.provider as (typeof BUILT_IN)[number]];
    return listing(emulator, client.clientId, client.clientSecret);
  });
  return { listings, close };
}

const LABELS: ReadonlyArray<[keyof EmulatorListing, string]> = [
  ['tokenUrl', 'tokenUrl'],
  ['refreshUrl', 'refreshUrl'],
  ['apiUrl', 'apiUrl'],
  ['clientId', 'clientId'],
  ['clientSecret', 'clientSecret'],
  ['refreshToken', 'refreshToken'],
  ['apiKey', 'apiKey'],
];

/** The listing as `emulate` prints it: one block per provider, `key  value` lines a script can grep. */
export function describeEmulators(listings: readonly EmulatorListing[], lifetimeSeconds: number | undefined): string {
  const lifetime = lifetimeSeconds === undefined ? 'their documented lifetimes' : `${lifetimeSeconds} s`;
  const lines = [`token-sidecar emulate: provider emulators, tokens live ${lifetime}; the credentials are demo values, not secrets`];
  for (const entry of listings) {
    lines.push('', entry.provider);
    for (const [key, label] of LABELS) {
      const value = entry[key];
      if (value !== undefined) lines.push(`  ${label.padEnd(13)} ${value}`);
    }
  }
  // The last line: a script that waits for it has the whole listing.
  lines.push('', `ready: ${listings.length} emulators; SIGTERM or Ctrl-C stops them`);
  return `${lines.join('\n')}\n`;
}
