import type { ProviderDescription } from '../config/provider-description.js';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, describedDemoClient, startDescribedEmulator, startEmulator, type Emulator, type EmulatorClient, type EmulatorOptions } from '../emulators/index.js';
import { UsageError } from './authorize.js';

export interface EmulateOptions {
  /** Port of the first emulator; the next ones take the ports after it. 0: any free ports. */
  readonly port: number;
  readonly lifetimeSeconds: number | undefined;
  readonly host?: string;
  /** Described providers (a config's `providers`), emulated after the built-ins, in order. */
  readonly described?: Readonly<Record<string, ProviderDescription>>;
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

/** `consent`: the provider's first token comes from a refresh token, so the listing offers a live one. */
function listing(emulator: Emulator<string>, client: EmulatorClient, consent: boolean): EmulatorListing {
  const { clientId, clientSecret } = client;
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
  const described = Object.entries(options.described ?? {});
  const count = BUILT_IN.length + described.length;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port + count - 1 > 65535) {
    throw new UsageError(`--port: expected 0 (any free ports) or a port up to ${65536 - count} (the emulators take ${count} ports from it), got ${options.port}`);
  }
  if (options.lifetimeSeconds !== undefined && (!Number.isInteger(options.lifetimeSeconds) || options.lifetimeSeconds < 1)) {
    throw new UsageError(`--lifetime: expected a whole number of seconds, at least 1, got ${options.lifetimeSeconds}`);
  }
  const started: Emulator<string>[] = [];
  const listings: EmulatorListing[] = [];
  const close = async () => {
    await Promise.all(started.map((emulator) => emulator.close()));
  };
  const optionsAt = (index: number): EmulatorOptions => ({
    host: options.host ?? '127.0.0.1',
    port: options.port === 0 ? 0 : options.port + index,
    ...(options.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.lifetimeSeconds }),
  });
  try {
    for (const [index, provider] of BUILT_IN.entries()) {
      const emulator = await startEmulator(provider, optionsAt(index));
      started.push(emulator);
      listings.push(listing(emulator, DEMO_CLIENTS[provider], provider === 'petje' || provider === 'light'));
    }
    for (const [offset, [name, description]] of described.entries()) {
      const emulator = await startDescribedEmulator(name, description, optionsAt(BUILT_IN.length + offset));
      started.push(emulator);
      listings.push(listing(emulator, describedDemoClient(name), description.grant === undefined));
    }
  } catch (error) {
    await close();
    throw error;
  }
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
