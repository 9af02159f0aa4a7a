// Nothing secret leaks: the fault scenarios run with distinctive secrets (client secrets, a
// wrong secret, an API key, bootstrap refresh tokens) and the taps collect every access and
// refresh token the token endpoints handed out. None may appear in the sidecar's output (debug
// level, access log on), /metrics, /readyz, /healthz, `check`, or anything an app saw:
// status lines, headers, error bodies.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/sidecar.js';
import { provision, type Provisioned } from './fleet.js';
import { Cleanup, fastConfig, rawExchange, startSidecar, waitFor, type RunningSidecar } from './kit.js';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const mark = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

/** Everything an app or operator could read, as text. */
const seen: string[] = [];

async function app(url: string, options: { method?: 'GET' | 'POST'; body?: string } = {}): Promise<number | string> {
  try {
    const res = await request(url, { method: options.method ?? 'GET', ...(options.body === undefined ? {} : { body: options.body }) });
    seen.push(`${res.statusCode} ${JSON.stringify(res.headers)}`);
    try {
      seen.push(await res.body.text());
    } catch {
      return 'cut';
    }
    return res.statusCode;
  } catch (error) {
    seen.push(String(error));
    return (error as { code?: string }).code ?? 'error';
  }
}

describe('nothing secret leaks', () => {
  it('runs the fault scenarios with known secrets and finds none in logs, metrics, readyz, check output or app answers', { timeout: 60_000 }, async () => {
    const secrets = {
      covver: mark('covver-client-secret'),
      cobee: mark('cobee-client-secret'),
      petje: mark('petje-client-secret'),
      light: mark('light-client-secret'),
      wrong: mark('wrong-client-secret'),
      apiKey: mark('light-api-key'),
    };
    const client = (provider: string, secret: string) => ({ clients: [{ clientId: `fault-${provider}`, clientSecret: secret }] });
    const covver = cleanup.add(await provision('covver', { ...client('covver', secrets.covver), lifetimeSeconds: 600 }), (unit) => unit.close());
    const cobee = cleanup.add(await provision('cobee', client('cobee', secrets.cobee)), (unit) => unit.close());
    const petje = cleanup.add(await provision('petje', client('petje', secrets.petje)), (unit) => unit.close());
    const light = cleanup.add(await provision('light', { ...client('light', secrets.light), apiKeys: [secrets.apiKey] }), (unit) => unit.close());
    const units: Provisioned[] = [covver, cobee, petje, light];

    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-secrets-'));
    cleanup.add(dir, (path) => rm(path, { recursive: true, force: true }));
    const bootstrap = { petje: petje.emulator.issueRefreshToken(), light: light.emulator.issueRefreshToken() };
    await writeFile(join(dir, 'covver-secret'), `${secrets.covver}\n`);
    await writeFile(join(dir, 'petje-refresh'), bootstrap.petje);
    const env = { FAULT_COBEE_SECRET: secrets.cobee, FAULT_LIGHT_REFRESH: bootstrap.light, FAULT_WRONG: secrets.wrong };

    const config = fastConfig(
      {
        covver: covver.route({ credentials: { clientSecret: `\${file:${join(dir, 'covver-secret')}}`, companyId: '42' } }),
        cobee: cobee.route({ credentials: { clientSecret: '${env:FAULT_COBEE_SECRET}' } }),
        petje: petje.route({ credentials: { refreshToken: `\${file:${join(dir, 'petje-refresh')}}` } }),
        light: light.route({ credentials: { refreshToken: '${env:FAULT_LIGHT_REFRESH}' } }),
        lightkey: { provider: 'light', upstream: light.route().upstream, tokenUrl: light.route().tokenUrl, credentials: { apiKey: secrets.apiKey } },
        // Another client id: routes with the same provider, token URL and client id share one credential.
        wrong: cobee.route({ credentials: { clientId: 'fault-cobee-unknown', clientSecret: '${env:FAULT_WRONG}' } }),
      },
      { accessLog: true },
    );
    const running: RunningSidecar = await startSidecar(config, { env, args: ['--log-level', 'debug'] });
    cleanup.add(running, (started) => started.stop());
    const routes = ['covver', 'cobee', 'petje', 'light', 'lightkey'];
    for (const route of routes) await waitFor(async () => ((await app(`${running.url}/${route}/whoami`)) === 200 ? true : undefined), { what: `${route} to serve` });

    // Normal traffic, bodies both ways.
    for (const route of routes) {
      expect(await app(`${running.url}/${route}/echo`, { method: 'POST', body: 'hello' })).toBe(200);
      expect(await app(`${running.url}/${route}/status/404`)).toBe(404);
    }
    // Rejected credentials, and readiness naming them.
    expect(await app(`${running.url}/wrong/whoami`)).toBe(502);
    // 401 storms on every token route: fresh tokens (and rotated refresh tokens) all round.
    for (const unit of units) unit.emulator.expireAllAccessTokens();
    for (const route of routes) await Promise.all(Array.from({ length: 5 }, () => app(`${running.url}/${route}/whoami`)));
    // A 401 that survives a fresh token goes back to the app.
    cobee.emulator.injectApiFault({ fault: { kind: 'unauthorized' }, times: 2 });
    expect(await app(`${running.url}/cobee/whoami`)).toBe(401);
    // Broken token answers while a fetch is needed: each route gets its own.
    const spoil = [
      [covver, { kind: 'huge', bytes: 2 * 1024 * 1024 }],
      [cobee, { kind: 'status', status: 500 }],
      [petje, { kind: 'nullToken' }],
      [light, { kind: 'expiresIn', value: -1 }],
    ] as const;
    for (const [unit, fault] of spoil) {
      unit.emulator.injectTokenFault({ fault, times: 1 });
      unit.emulator.expireAllAccessTokens();
    }
    for (const route of ['covver', 'cobee', 'petje', 'light']) await app(`${running.url}/${route}/whoami`);
    for (const route of ['covver', 'cobee', 'petje', 'light']) await waitFor(async () => ((await app(`${running.url}/${route}/whoami`)) === 200 ? true : undefined), { what: `${route} to recover` });
    // Upstream faults.
    covver.emulator.injectApiFault({ fault: { kind: 'stall' }, times: 1 });
    expect(await app(`${running.url}/covver/whoami`)).toBe(504);
    petje.emulator.injectApiFault({ fault: { kind: 'resetMidBody' }, times: 1 });
    await app(`${running.url}/petje/whoami`);
    await petje.apiTap.close();
    expect(await app(`${running.url}/petje/whoami`)).toBe(502);
    await petje.apiTap.open();
    // The token endpoint gone while a token is needed: token_unavailable.
    await cobee.tokenTap.close();
    cobee.emulator.expireAllAccessTokens();
    await app(`${running.url}/cobee/whoami`);
    expect(await app(`${running.url}/cobee/whoami`)).toBe(503);
    await cobee.tokenTap.open();
    // Hostile input.
    for (const line of ['GET /cobee/%zz HTTP/1.1', 'GET /cobee/../covver/whoami HTTP/1.1', 'CONNECT evil.example:443 HTTP/1.1', 'GET /nowhere HTTP/1.1']) {
      seen.push(await rawExchange(running.url, `${line}\r\nHost: localhost\r\nAuthorization: Bearer app-own\r\nConnection: close\r\n\r\n`));
    }

    for (const path of ['/metrics', '/readyz', '/healthz']) {
      const res = await request(`${running.adminUrl}${path}`);
      seen.push(`${res.statusCode} ${JSON.stringify(res.headers)}`, await res.body.text());
    }
    const check = await runCli(['check', '--config', running.configFile], env);
    expect(check.code).toBe(0);
    seen.push(check.stdout, check.stderr);
    expect(await running.stop()).toBe(0);
    seen.push(running.output());

    // The scenarios did what they claim: tokens were issued, refreshed and rotated.
    const issued = units.flatMap((unit) => unit.ledger.secrets());
    expect(covver.ledger.accessTokens.size).toBeGreaterThanOrEqual(3);
    expect(light.ledger.refreshTokens.size).toBeGreaterThanOrEqual(3);
    expect(running.output()).toContain('token_refresh_failed');
    expect(running.output()).toContain('"event":"access"');

    const needles = [...Object.values(secrets), bootstrap.petje, bootstrap.light, ...issued].flatMap((secret) => {
      // A JWT's payload and signature are each secret enough to look for on their own.
      const parts = secret.split('.');
      return parts.length === 3 ? [secret, parts[1] as string, parts[2] as string] : [secret];
    });
    expect(needles.length).toBeGreaterThan(30);
    const haystack = seen.join('\n');
    const leaked = needles.filter((needle) => haystack.includes(needle));
    expect(leaked).toEqual([]);
  });
});
