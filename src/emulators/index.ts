// Local emulators of the four providers' token endpoints and of a protected API behind each.
// See SPEC.md §6 and providers/CONTRACTS.md; the behaviour of each piece is documented where it lives.
export type {
  ApiFault,
  EmulatedProvider,
  Emulator,
  EmulatorClient,
  EmulatorOptions,
  EmulatorSet,
  EmulatorSetOptions,
  EmulatorStats,
  FaultPlan,
  TokenFault,
} from './types.js';
export { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, describedDemoClient } from './demo-credentials.js';
export type { ProviderDescription, ProviderDescriptionInput } from '../config/provider-description.js';
export { startDescribedEmulator, startEmulator } from './emulator.js';
export { startEmulators } from './emulator-set.js';
