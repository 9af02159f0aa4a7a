import { fileURLToPath } from 'node:url';
import { loadConfig, type SidecarConfig } from './config/load.js';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulators, type EmulatorSet } from './emulators/index.js';

/** The shipped demo config; the demo fills its ${env:DEMO_*} values from the running emulators. */
export const DEMO_CONFIG = fileURLToPath(new URL('../config/demo.yaml', import.meta.url));

export function demoEnvironment(emulators: EmulatorSet, options: { port: number; adminPort: number }): Record<string, string> {
  const env: Record<string, string> = {
    DEMO_LISTEN: `127.0.0.1:${options.port}`,
    DEMO_ADMIN: `127.0.0.1:${options.adminPort}`,
    DEMO_PETJE_REFRESH_TOKEN: emulators.petje.issueRefreshToken(),
    DEMO_LIGHT_REFRESH_TOKEN: emulators.light.issueRefreshToken(),
    DEMO_LIGHT_API_KEY,
  };
  for (const provider of ['covver', 'cobee', 'petje', 'light'] as const) {
    const prefix = `DEMO_${provider.toUpperCase()}`;
    env[`${prefix}_API`] = emulators[provider].apiUrl;
    env[`${prefix}_TOKEN_URL`] = emulators[provider].tokenUrl;
    env[`${prefix}_CLIENT_ID`] = DEMO_CLIENTS[provider].clientId;
    env[`${prefix}_CLIENT_SECRET`] = DEMO_CLIENTS[provider].clientSecret;
  }
  return env;
}

/** Starts the emulators and loads config/demo.yaml against them. */
export async function startDemo(options: { port: number; adminPort: number; lifetimeSeconds: number }): Promise<{ emulators: EmulatorSet; config: SidecarConfig }> {
  const emulators = await startEmulators({ lifetimeSeconds: options.lifetimeSeconds });
  Object.assign(process.env, demoEnvironment(emulators, options));
  try {
    return { emulators, config: loadConfig(DEMO_CONFIG) };
  } catch (error) {
    await emulators.close();
    throw error;
  }
}

export function demoInstructions(proxy: string, admin: string, lifetimeSeconds: number): string {
  const base = `http://${proxy}`;
  return [
    '',
    `token-sidecar demo: four emulated providers (tokens live ${lifetimeSeconds} s) behind a sidecar on ${base}`,
    `config: ${DEMO_CONFIG}`,
    'Try:',
    `  curl -s ${base}/covver/whoami`,
    `  curl -s ${base}/cobee/whoami`,
    `  curl -s ${base}/petje/whoami`,
    `  curl -s ${base}/light/whoami`,
    `  curl -s ${base}/light-key/whoami`,
    `  curl -s -X POST --data-binary 'hello' -H 'content-type: text/plain' ${base}/covver/echo`,
    `  curl -s -i ${base}/nope/x            # 404 no_route, JSON error`,
    `  curl -s http://${admin}/metrics | grep token_sidecar_`,
    `  curl -s http://${admin}/readyz`,
    'Watch the JSON log lines below refresh each token before it expires. Ctrl-C stops.',
    '',
  ].join('\n');
}
