// An emulator with a token tap and an API tap in front of it, and the sidecar route that uses
// them: the unit the secrets test and the fault report are built from.
import { startEmulator, type EmulatedProvider, type Emulator, type EmulatorOptions } from '../../src/emulators/index.js';
import { routeFor } from './kit.js';
import { Ledger, Tap } from './tap.js';

const DEFAULT_LIFETIME_SECONDS: Record<EmulatedProvider, number> = { covver: 600, cobee: 86_400, petje: 3_599, light: 3_600 };

export interface Provisioned {
  readonly emulator: Emulator;
  readonly ledger: Ledger;
  readonly tokenTap: Tap;
  readonly apiTap: Tap;
  /** The route config through the taps (overrides merge, `credentials` too). */
  route(overrides?: Record<string, unknown> & { credentials?: Record<string, unknown> }): Record<string, unknown>;
  close(): Promise<void>;
}

export async function provision(provider: EmulatedProvider, options: EmulatorOptions = {}): Promise<Provisioned> {
  const emulator = await startEmulator(provider, options);
  const ledger = new Ledger((options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS[provider]) * 1000);
  const tokenTap = await Tap.start(emulator.url, ledger, 'token');
  const apiTap = await Tap.start(emulator.url, ledger, 'api');
  const client = options.clients?.[0];
  return {
    emulator,
    ledger,
    tokenTap,
    apiTap,
    route: (overrides = {}) => {
      const { credentials, ...rest } = overrides;
      return routeFor(emulator, {
        tokenUrl: tokenTap.rebase(emulator.tokenUrl),
        upstream: apiTap.rebase(emulator.apiUrl),
        ...rest,
        credentials: { ...(client ? { clientId: client.clientId, clientSecret: client.clientSecret } : {}), ...credentials },
      });
    },
    close: async () => {
      await Promise.all([tokenTap.destroy(), apiTap.destroy()]);
      await emulator.close();
    },
  };
}
