// `token-sidecar authorize` for an oauth2 route against oidc-provider: the command prints the
// consent URL (PKCE S256), the operator pastes where the browser was sent, the code is exchanged
// and the refresh token stored, and a sidecar on the same store uses it.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, runCli, startSidecarWithFile, writeConfig } from '../support/sidecar.js';
import { call, Cleanup } from '../faults/kit.js';
import { consentRedirect, startProtectedApi, type ProtectedApi } from './kit.js';
import { APP, APP_CLIENT, APP_CREDENTIALS } from './consent-client.js';
import { API_RESOURCE, startOidcServer, type OidcServer } from './oidc-server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Runs `authorize` as an operator would: reads the URL it prints, answers with `answer(url)` on stdin. */
function authorizeInteractively(configFile: string, answer: (url: string) => Promise<string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, 'authorize', 'api', '--config', configFile]);
    let stdout = '';
    let stderr = '';
    let answered = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /^(https?:\/\/\S+)$/m.exec(stdout)?.[1];
      if (url && !answered) {
        answered = true;
        answer(url).then((line) => child.stdin.write(`${line}\n`), reject);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

async function setup(): Promise<{ oidc: OidcServer; configFile: string; api: ProtectedApi }> {
  const oidc = cleanup.add(await startOidcServer({ clients: [APP_CLIENT] }), (started) => started.close());
  const api = cleanup.add(await startProtectedApi(oidc), (started) => started.close());
  const dir = cleanup.add(await mkdtemp(join(tmpdir(), 'oauth2-authorize-')), (created) => rm(created, { recursive: true, force: true }));
  const configFile = await writeConfig(
    {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      store: { type: 'file', path: join(dir, 'state.json') },
      routes: { api: { provider: 'oauth2', upstream: api.url, tokenUrl: oidc.tokenUrl, authorizeUrl: oidc.authorizeUrl, credentials: APP_CREDENTIALS } },
    },
    dir,
  );
  return { oidc, configFile, api };
}

describe('token-sidecar authorize for oauth2 against oidc-provider', () => {
  it('prints a PKCE consent URL, exchanges the real code with its verifier, and a sidecar on the same store serves with the grant', async () => {
    const { oidc, configFile, api } = await setup();
    let consentUrl: URL | undefined;
    const run = await authorizeInteractively(configFile, async (url) => {
      consentUrl = new URL(url);
      return (await consentRedirect(url, APP.redirectUri)).href;
    });
    expect(run.stderr).toContain('Open this URL');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('refresh token stored in the file store');
    expect(consentUrl?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(consentUrl?.searchParams.get('redirect_uri')).toBe(APP.redirectUri);
    const exchange = oidc.hits.find((hit) => hit.grantType === 'authorization_code');
    expect(exchange?.fields.code_verifier).toEqual(expect.any(String));
    expect(exchange?.authorization).toMatch(/^Basic /);

    // The sidecar starts with the stored access token, and refreshes with the stored refresh token.
    const running = cleanup.add(await startSidecarWithFile(configFile), (started) => started.stop());
    const answer = await call(`${running.url}/api/x`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ sub: 'user-1', aud: API_RESOURCE, scope: 'api:read' });
    api.revokeSeen();
    expect((await call(`${running.url}/api/x`)).status).toBe(200);
    expect(oidc.hits.map((hit) => hit.grantType)).toEqual(['authorization_code', 'refresh_token']);
    // The stored grant: the refresh token, not the code, and not in any output.
    expect(run.stdout + run.stderr + running.output()).not.toContain(String(exchange?.fields.code));
  });

  it('a redirect from another consent (wrong state) is refused and nothing is stored', async () => {
    const { oidc, configFile } = await setup();
    const run = await authorizeInteractively(configFile, async (url) => {
      const redirected = await consentRedirect(url, APP.redirectUri);
      redirected.searchParams.set('state', 'someone-elses');
      return redirected.href;
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('another state');
    expect(oidc.hits).toEqual([]);
  });

  it('a route without authorizeUrl, run without --code, says what to set', async () => {
    const { configFile } = await setup();
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replace(/\n\s+authorizeUrl: .*\n/, '\n'));
    const run = await runCli(['authorize', 'api', '--config', configFile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('pass --code CODE, or set routes.api.authorizeUrl');
  });
});
