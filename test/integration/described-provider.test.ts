import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describedDemoClient, startDescribedEmulator, type Emulator, type ProviderDescriptionInput } from '../../src/emulators/index.js';
import { runCli, startSidecar, waitFor, writeConfig, type RunningSidecar } from '../support/sidecar.js';

// A provider no code knows: described in the config, run by the built sidecar against the
// emulator generated from the same description. Nothing but data defines its dialect.
const ACME: ProviderDescriptionInput = {
  tokenUrl: 'https://auth.acme.example/v2/auth/login',
  encoding: 'json',
  grant: { fields: { grant: 'client', id: '{clientId}', key: '{clientSecret}', account: '{accountId?}' } },
  refresh: { url: '../session/renew', fields: { grant: 'renew', renewal: '{refreshToken}', id: '{clientId}' } },
  response: { accessToken: 'sessionToken', expiresIn: 'validFor', refreshToken: 'renewalToken', tokenType: 'kind' },
  errorFields: ['reason'],
  send: { header: 'X-Acme-Session', scheme: 'Session' },
};

// Form-encoded, consent-only (no grant: the first token comes from a bootstrap refresh token),
// snake_case defaults, the bare token in an API-key header.
const KEYED: ProviderDescriptionInput = {
  encoding: 'form',
  refresh: { fields: { grant_type: 'refresh_token', refresh_token: '{refreshToken}', client_id: '{clientId}', client_secret: '{clientSecret}' } },
  authorizationCode: { fields: { grant_type: 'authorization_code', code: '{code}', client_id: '{clientId}', client_secret: '{clientSecret}' } },
  send: { header: 'x-api-token', scheme: '' },
};

let emulator: Emulator<string>;
let keyed: Emulator<string>;
let sidecar: RunningSidecar;

beforeAll(async () => {
  emulator = await startDescribedEmulator('acme', ACME, { lifetimeSeconds: 3600 });
  keyed = await startDescribedEmulator('keyed', KEYED);
  sidecar = await startSidecar({
    providers: { acme: ACME, keyed: KEYED },
    routes: {
      keyed: { provider: 'keyed', upstream: keyed.apiUrl, tokenUrl: keyed.tokenUrl, credentials: { ...describedDemoClient('keyed'), refreshToken: keyed.issueRefreshToken() } },
      acme: { provider: 'acme', upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials: describedDemoClient('acme') },
      'acme-account': { provider: 'acme', upstream: emulator.apiUrl, tokenUrl: emulator.tokenUrl, credentials: { ...describedDemoClient('acme'), accountId: '42' } },
    },
  });
});

afterAll(async () => {
  expect(await sidecar?.stop()).toBe(0);
  await emulator?.close();
  await keyed?.close();
});

interface WhoAmI {
  provider: string;
  clientId: string;
  headers: Record<string, string>;
}

async function whoami(route: string, headers: Record<string, string> = {}): Promise<{ status: number; body: WhoAmI }> {
  const response = await request(`${sidecar.url}/${route}/whoami`, { headers });
  return { status: response.statusCode, body: (await response.body.json()) as WhoAmI };
}

describe('a provider described in config, end to end', () => {
  it('the emulator serves the described paths', () => {
    expect(emulator.tokenUrl).toMatch(/\/v2\/auth\/login$/);
    expect(emulator.refreshUrl).toMatch(/\/v2\/session\/renew$/);
  });

  it('injects the token under the described header and scheme, replacing the app\'s own', async () => {
    const answer = await whoami('acme', { 'x-acme-session': 'Session forged-by-the-app', authorization: 'Bearer the-apps-own', 'x-custom': 'kept' });
    // The described emulator accepts a token only as `X-Acme-Session: Session <token>`.
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ provider: 'acme', clientId: 'demo-acme' });
    expect(answer.body.headers.authorization).toBeUndefined();
    expect(answer.body.headers['x-custom']).toBe('kept');
    expect(emulator.stats.byGrant.client_credentials).toBeGreaterThanOrEqual(1);
  });

  it('a route whose optional credential field is set holds its own token (the field is part of the cache key)', async () => {
    expect((await whoami('acme-account')).status).toBe(200);
    // Fetched at start, one token request per credential, not one shared.
    await waitFor(() => (emulator.stats.byGrant.client_credentials === 2 ? true : undefined), { what: 'two client-credentials grants' });
  });

  it('refreshes on the described refresh path with the rotated refresh token, never replaying one', async () => {
    for (let round = 1; round <= 3; round += 1) {
      emulator.expireAllAccessTokens();
      // The upstream's 401 makes the sidecar refresh once and retry with the new token.
      const answer = await whoami('acme');
      expect(answer.status, `round ${round}`).toBe(200);
    }
    expect(emulator.stats.byGrant.refresh_token).toBeGreaterThanOrEqual(3);
    // The described emulator rotates and revokes the family on reuse: a replay would show here and break the chain.
    expect(emulator.stats.refreshReplays).toBe(0);
  });

  it('a form-encoded, consent-only provider sends the bare token in its API-key header and rotates from the bootstrap', async () => {
    expect(keyed.tokenUrl).toMatch(/\/oauth\/token$/);
    for (let round = 0; round < 3; round += 1) {
      if (round > 0) keyed.expireAllAccessTokens();
      const answer = await whoami('keyed', { 'x-api-token': 'forged-by-the-app' });
      expect(answer.status, `round ${round}`).toBe(200);
      expect(answer.body.clientId).toBe('demo-keyed');
    }
    expect(keyed.stats.byGrant).toEqual({ refresh_token: 3 });
    expect(keyed.stats.refreshReplays).toBe(0);
  });

  it("the README's complete example is a valid config", async () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Describing a provider in config'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] as string;
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-described-'));
    await writeFile(join(dir, 'secret'), 'readme-secret');
    const file = join(dir, 'config.yaml');
    await writeFile(file, example.replace('/var/run/secrets/acme/clientSecret', join(dir, 'secret')));
    const { code, stdout, stderr } = await runCli(['check', '--config', file], { ACME_CLIENT_ID: 'readme-client' });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('refreshUrl: https://auth.acme.example/v2/session/renew');
  });

  it('check prints the derived refresh URL of a described provider', async () => {
    const file = await writeConfig({ providers: { acme: ACME }, routes: { acme: { provider: 'acme', upstream: 'https://api.acme.example', credentials: { clientId: 'a', clientSecret: 'b' } } } });
    const { code, stdout } = await runCli(['check', '--config', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('refreshUrl: https://auth.acme.example/v2/session/renew');
    expect(stdout).toContain('provider: acme');
    expect(stdout).toContain('sends: "x-acme-session: Session <token>"');
  });
});
