// A hostile config against the built CLI (`token-sidecar check`): whoever can edit a ConfigMap
// must not read mounted Secrets or the environment out through the error messages, reach
// Object.prototype through ${env:}, or exhaust the process with a huge file, an alias bomb or
// endless nesting. Each is a config error (exit 2) that names the key or the reference, quickly.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../support/sidecar.js';

const FILE_SECRET = 'mounted-secret-9d41b7c2e8';
const ENV_SECRET = 'environment-secret-5a0f3e6d91';
/** A process that parsed the 50 MB file, or expanded the alias bomb, would die of this heap (exit 134), not exit 2. */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=64', HOSTILE_ENV_SECRET: ENV_SECRET };

let dir: string;
let secretFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'token-sidecar-hostile-config-'));
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${FILE_SECRET}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const route = (extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) => ({
  provider: 'covver',
  upstream: 'https://api.covver.io',
  credentials: { clientId: 'id', clientSecret: 'inline', ...credentials },
  ...extra,
});

async function check(config: unknown): Promise<{ code: number | null; stderr: string; stdout: string; ms: number }> {
  const file = typeof config === 'string' ? config : await writeConfig(config, await mkdtemp(join(dir, 'case-')));
  const started = performance.now();
  const result = await runCli(['check', '--config', file], SMALL_HEAP);
  return { ...result, ms: performance.now() - started };
}

/** A secret placed where it does not belong, for every kind of field the schema has. */
const WRONG_FIELDS: Array<[string, string, (secret: string) => Record<string, unknown>]> = [
  ['host:port', 'listen', (secret) => ({ listen: secret, routes: { covver: route() } })],
  ['a route\'s host:port', 'routes.covver.listen', (secret) => ({ routes: { covver: route({ listen: secret }) } })],
  ['duration', 'timeouts.token', (secret) => ({ timeouts: { token: secret }, routes: { covver: route() } })],
  ['size', 'upstream.retryBodyLimit', (secret) => ({ upstream: { retryBodyLimit: secret }, routes: { covver: route() } })],
  ['URL', 'routes.covver.upstream', (secret) => ({ routes: { covver: route({ upstream: secret }) } })],
  ['URL with a scheme', 'routes.covver.tokenUrl', (secret) => ({ routes: { covver: route({ tokenUrl: `ftp://${secret}` }) } })],
  ['enum', 'routes.covver.provider', (secret) => ({ routes: { covver: route({ provider: secret }) } })],
  ['enum of a block', 'store.type', (secret) => ({ store: { type: secret }, routes: { covver: route() } })],
  ['number', 'cache.maxEntries', (secret) => ({ cache: { maxEntries: secret }, routes: { covver: route() } })],
  ['boolean', 'accessLog', (secret) => ({ accessLog: secret, routes: { covver: route() } })],
  ['patterned string', 'store.url', (secret) => ({ store: { type: 'redis', url: secret }, routes: { covver: route() } })],
  ['file path', 'routes.covver.caFile', (secret) => ({ routes: { covver: route({ caFile: secret }) } })],
  ['oauth2 enum', 'routes.covver.clientAuth', (secret) => ({ routes: { covver: route({ provider: 'oauth2', tokenUrl: 'https://t.example/token', clientAuth: secret }) } })],
  ['header "name: value"', 'guard.requireHeader', (secret) => ({ guard: { requireHeader: secret }, routes: { covver: route() } })],
  ['host name in a list', 'guard.allowHosts.0', (secret) => ({ guard: { allowHosts: [`${secret}:1`] }, routes: { covver: route() } })],
  ['origin in a list', 'guard.allowOrigins.0', (secret) => ({ guard: { allowOrigins: [secret] }, routes: { covver: route() } })],
  ['part of a host:port that is not loopback', 'listen', (secret) => ({ listen: `${secret}:8080`, routes: { covver: route() } })],
  ['part of a URL', 'routes.covver.upstream', (secret) => ({ routes: { covver: route({ upstream: `https://${secret}/x?q=1` }) } })],
  ['a client id shared by two routes', 'routes.b.credentials.clientSecret', (secret) => ({ routes: { a: route({}, { clientId: secret }), b: route({}, { clientId: secret, clientSecret: 'other' }) } })],
];

describe('a secret in the wrong field is never echoed', () => {
  it.each(WRONG_FIELDS)('%s (%s), from ${file:} and from ${env:}', async (_type, key, build) => {
    for (const [reference, secret] of [[`\${file:${secretFile}}`, FILE_SECRET], ['${env:HOSTILE_ENV_SECRET}', ENV_SECRET]] as const) {
      const { code, stderr, stdout } = await check(build(reference));
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(key);
      expect(stderr).not.toContain(secret);
      expect(stdout).not.toContain(secret);
    }
  });

  it('the message names the reference instead of its content', async () => {
    const { stderr } = await check({ listen: `\${file:${secretFile}}`, routes: { covver: route() } });
    expect(stderr).toContain(`got "\${file:${secretFile}}"`);
  });
});

describe('${env:NAME} reads only the environment\'s own keys, with a valid name', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('${env:%s} is not set, never Object.prototype', async (name) => {
    const { code, stderr } = await check({ routes: { covver: route({}, { clientId: `\${env:${name}}` }) } });
    expect(code).toBe(2);
    expect(stderr).toContain(`routes.covver.credentials.clientId: environment variable ${name} is not set`);
    expect(stderr).not.toContain('native code');
  });

  it.each(['1ABC', 'A-B', 'A B', 'A.B', 'A/B'])('${env:%s} is not a variable name', async (name) => {
    const { code, stderr } = await check({ routes: { covver: route({}, { clientId: `\${env:${name}}` }) } });
    expect(code).toBe(2);
    expect(stderr).toContain('is not an environment variable name');
  });
});

describe('a config cannot exhaust the process', () => {
  it('a 50 MB config is refused before parsing, in bounded time and heap', async () => {
    const file = join(dir, 'huge.yaml');
    await writeFile(file, `routes:\n  covver: {provider: covver, upstream: https://api.covver.io, credentials: {clientId: a, clientSecret: b}}\n# ${'x'.repeat(50 * 1024 * 1024)}\n`);
    const { code, stderr, ms } = await check(file);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('is larger than 1048576 bytes');
    expect(ms).toBeLessThan(5_000);
  });

  it('an alias bomb is a config error, not a crash (exit 2)', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let level = 1; level < 9; level += 1) levels.push(`${'abcdefghi'[level] as string}: &${'abcdefghi'[level] as string} [${Array(9).fill(`*${'abcdefghi'[level - 1] as string}`).join(',')}]`);
    const file = join(dir, 'bomb.yaml');
    await writeFile(file, `${levels.join('\n')}\nroutes: {}\n`);
    const { code, stderr, ms } = await check(file);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('YAML aliases expand more than 100 times');
    expect(ms).toBeLessThan(5_000);
  });

  it('an alias that holds itself is a config error', async () => {
    const file = join(dir, 'cycle.yaml');
    await writeFile(file, 'routes: &r\n  covver: *r\n');
    const { code, stderr } = await check(file);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('nested deeper than 32 levels');
  });

  it.each([
    ['flow lists 200,000 deep', '['.repeat(200_000) + ']'.repeat(200_000)],
    ['flow mappings past the limit', `routes: ${'{a: '.repeat(40)}1${'}'.repeat(40)}\n`],
    ['block mappings past the limit', `routes:\n${Array.from({ length: 40 }, (_, level) => `${'  '.repeat(level + 1)}k:`).join('\n')} 1\n`],
  ])('%s: a config error, in bounded time and heap', async (_name, text) => {
    const file = join(dir, 'deep.yaml');
    await writeFile(file, text);
    const { code, stderr, ms } = await check(file);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('nested deeper than 32 levels');
    expect(ms).toBeLessThan(5_000);
  });

  it('brackets and quotes inside scalars and comments do not count as nesting', async () => {
    const brackets = '['.repeat(40);
    const { code, stderr } = await check({ routes: { covver: route({}, { clientSecret: `"${brackets}' ${brackets}`, clientId: `it's ${brackets}` }) } });
    expect(code, stderr).toBe(0);
  });

  it('a ${file:} that never ends (/dev/zero) is refused, not read', async () => {
    const { code, stderr, ms } = await check({ routes: { covver: route({}, { clientSecret: '${file:/dev/zero}' }) } });
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('routes.covver.credentials.clientSecret: cannot read file /dev/zero (larger than 1048576 bytes)');
    expect(ms).toBeLessThan(5_000);
  });
});
