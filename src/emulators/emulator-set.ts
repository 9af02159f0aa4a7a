import { startEmulator } from './emulator.js';
import type { EmulatedProvider, Emulator, EmulatorSet, EmulatorSetOptions } from './types.js';

const PROVIDERS: readonly EmulatedProvider[] = ['covver', 'cobee', 'petje', 'light'];

/** All four emulators, each on its own port; per-provider options override the shared ones. */
export async function startEmulators(options: EmulatorSetOptions = {}): Promise<EmulatorSet> {
  const { perProvider = {}, ...shared } = options;
  const started = await Promise.allSettled(
    PROVIDERS.map((provider) => startEmulator(provider, { ...shared, ...perProvider[provider] })),
  );
  const emulators: Emulator[] = [];
  for (const result of started) if (result.status === 'fulfilled') emulators.push(result.value);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(emulators.map((emulator) => emulator.close()));
    throw failure.reason;
  }
  const [covver, cobee, petje, light] = emulators as [Emulator, Emulator, Emulator, Emulator];
  return {
    covver,
    cobee,
    petje,
    light,
    close: async () => {
      await Promise.all(emulators.map((emulator) => emulator.close()));
    },
  };
}
