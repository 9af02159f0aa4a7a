import { validateConfig } from './config/load.js';
import { DEMO_CLIENTS, DEMO_LIGHT_API_KEY, startEmulators, type EmulatorSet } from './emulators/index.js';

/** The demo's config: the four emulated providers behind one sidecar (plus Light's API-key mode). */
export function demoConfig(emulators: EmulatorSet, options: { port: number; adminPort: number }) {
  return validateConfig({
    listen: `127.0.0.1:${options.port}`,
    admin: `127.0.0.1:${options.adminPort}`,
    accessLog: true,
    routes: {
      covver: { provider: 'covver', upstream: emulators.covver.apiUrl, tokenUrl: emulators.covver.tokenUrl, credentials: { ...DEMO_CLIENTS.covver } },
      cobee: { provider: 'cobee', upstream: emulators.cobee.apiUrl, tokenUrl: emulators.cobee.tokenUrl, credentials: { ...DEMO_CLIENTS.cobee } },
      petje: {
        provider: 'petje',
        upstream: emulators.petje.apiUrl,
        tokenUrl: emulators.petje.tokenUrl,
        credentials: { ...DEMO_CLIENTS.petje, refreshToken: emulators.petje.issueRefreshToken() },
      },
      light: {
        provider: 'light',
        upstream: emulators.light.apiUrl,
        tokenUrl: emulators.light.tokenUrl,
        credentials: { ...DEMO_CLIENTS.light, refreshToken: emulators.light.issueRefreshToken() },
      },
      'light-key': { provider: 'light', upstream: emulators.light.apiUrl, credentials: { apiKey: DEMO_LIGHT_API_KEY } },
    },
  });
}

export async function startDemoEmulators(lifetimeSeconds: number): Promise<EmulatorSet> {
  return startEmulators({ lifetimeSeconds });
}

export function demoInstructions(proxy: string, admin: string, lifetimeSeconds: number): string {
  const base = `http://${proxy}`;
  return [
    '',
    `token-sidecar demo: four emulated providers (tokens live ${lifetimeSeconds} s) behind a sidecar on ${base}`,
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
