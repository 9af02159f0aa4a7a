import type { EmulatedProvider, EmulatorClient } from './types.js';

/** Credentials each emulator accepts unless `clients` says otherwise. Not secrets: demo values. */
export const DEMO_CLIENTS: Record<EmulatedProvider, EmulatorClient> = {
  covver: { clientId: 'demo-covver', clientSecret: 'demo-covver-secret' },
  cobee: { clientId: 'demo-cobee', clientSecret: 'demo-cobee-secret' },
  petje: { clientId: 'demo-petje', clientSecret: 'demo-petje-secret' },
  light: { clientId: 'demo-light', clientSecret: 'demo-light-secret' },
};

/** The static API key the Light emulator accepts as `Authorization: Basic <key>` unless `apiKeys` says otherwise. */
export const DEMO_LIGHT_API_KEY = 'demo-light-api-key';

/** The client a described provider's emulator accepts unless `clients` says otherwise. */
export function describedDemoClient(name: string): EmulatorClient {
  return { clientId: `demo-${name}`, clientSecret: `demo-${name}-secret` };
}
