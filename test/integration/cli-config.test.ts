import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../support/sidecar.js';

const CORPUS = resolve(import.meta.dirname, '../fixtures/config-errors');
const fixtures = readdirSync(CORPUS).filter((file) => file.endsWith('.yaml'));

describe('token-sidecar check on broken configs', () => {
  it('has a corpus of at least 15 broken configs', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
  });

  it.each(fixtures)('%s exits 2 and names the key', async (fixture) => {
    const expected = /^# expect: (.+)$/m.exec(readFileSync(join(CORPUS, fixture), 'utf8'))?.[1];
    expect(expected, 'fixture declares the key it breaks').toBeDefined();
    const { code, stderr, stdout } = await runCli(['check', '--config', join(CORPUS, fixture)]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(expected as string);
    // The sentence says what to do, not only what is wrong.
    expect(stderr).toMatch(/expected|required|remove|fix|must|mount|export|use|give|define|route names/i);
  });

  it('the run command exits 2 on the same config errors', async () => {
    const { code, stderr } = await runCli(['--config', join(CORPUS, '03-missing-client-secret.yaml')]);
    expect(code).toBe(2);
    expect(stderr).toContain('routes.covver.credentials.clientSecret');
  });

  it('reports every problem at once', async () => {
    const file = await writeConfig({
      listen: 'nope',
      cache: { maxEntries: -1 },
      routes: { covver: { provider: 'covver', upstream: 'ftp://x', credentials: { clientId: 'a' } } },
    });
    const { code, stderr } = await runCli(['check', '--config', file]);
    expect(code).toBe(2);
    for (const key of ['listen', 'cache.maxEntries', 'routes.covver.upstream', 'routes.covver.credentials.clientSecret']) expect(stderr).toContain(key);
  });

  it('exits 2 with a usage message for no config and for an unknown flag', async () => {
    const none = await runCli(['check'], { TOKEN_SIDECAR_CONFIG: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--config');
    const unknown = await runCli(['check', '--confg', 'x.yaml']);
    expect(unknown.code).toBe(2);
  });

  it('prints the resolved routes with every secret redacted, reading ${env:} and ${file:}', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-check-'));
    await writeFile(join(dir, 'secret'), 'file-secret-value-123\n');
    const file = await writeConfig(
      {
        routes: {
          covver: { provider: 'covver', upstream: 'https://api.covver.io', credentials: { clientId: '${env:CHECK_CLIENT_ID}', clientSecret: `\${file:${join(dir, 'secret')}}` } },
          light: { provider: 'light', upstream: 'https://api.light.inc/v1', credentials: { apiKey: 'inline-api-key-456' } },
        },
      },
      dir,
    );
    const { code, stdout } = await runCli(['check', '--config', file], { CHECK_CLIENT_ID: 'env-client-id-789' });
    expect(code).toBe(0);
    expect(stdout).toContain('configuration is valid');
    expect(stdout).toContain('https://api.covver.io/api/ext/v1/oauth/tokens');
    expect(stdout).toContain('https://api.covver.io/api/ext/v1/oauth/refresh-token');
    expect(stdout).toContain('${env:CHECK_CLIENT_ID}');
    for (const secret of ['file-secret-value-123', 'inline-api-key-456', 'env-client-id-789']) expect(stdout).not.toContain(secret);
  });

  it('prints an oauth2 route\'s client authentication, authorizeUrl and tokenParams names, never a tokenParams value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-check-'));
    const file = await writeConfig(
      {
        routes: {
          api: {
            provider: 'oauth2',
            upstream: 'https://api.example.com',
            tokenUrl: 'https://auth.example.com/oauth2/token',
            authorizeUrl: 'https://auth.example.com/oauth2/authorize',
            clientAuth: 'client_secret_post',
            tokenParams: { organization: 'org-param-value-321' },
            credentials: { clientId: 'app', clientSecret: 'oauth2-secret-654', redirectUri: 'http://127.0.0.1:9999/callback' },
          },
          plain: { provider: 'oauth2', upstream: 'https://api.example.com', tokenUrl: 'https://auth.example.com/oauth2/token', credentials: { clientId: 'app2', clientSecret: 'oauth2-secret-987' } },
        },
      },
      dir,
    );
    const { code, stdout } = await runCli(['check', '--config', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('clientAuth: client_secret_post');
    expect(stdout).toContain('clientAuth: client_secret_basic (default)');
    expect(stdout).toContain('authorizeUrl: https://auth.example.com/oauth2/authorize');
    expect(stdout).toMatch(/tokenParams:\s+organization: <set>/);
    for (const secret of ['org-param-value-321', 'oauth2-secret-654', 'oauth2-secret-987']) expect(stdout).not.toContain(secret);
  });

  it('accepts the shipped example config once its secret files exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-sidecar-example-'));
    const text = readFileSync(resolve(import.meta.dirname, '../../config/example.yaml'), 'utf8').replaceAll('/var/run/secrets/token-sidecar/', `${dir}/`);
    for (const name of text.matchAll(new RegExp(`\\$\\{file:${dir}/([a-z-]+)\\}`, 'g'))) await writeFile(join(dir, name[1] as string), `value-of-${name[1]}`);
    const file = join(dir, 'example.yaml');
    await writeFile(file, text);
    const env = { COVVER_CLIENT_ID: 'id', COBEE_CLIENT_ID: 'id', PETJE_CLIENT_ID: 'id', LIGHT_CLIENT_ID: 'id' };
    const { code, stderr, stdout } = await runCli(['check', '--config', file], env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const route of ['acme', 'covver', 'cobee', 'petje', 'light', 'light-reports']) expect(stdout).toContain(`${route}:`);
    expect(stdout).not.toContain('value-of-');
  });
});
