import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, runCli, waitFor, writeConfig } from '../support/sidecar.js';

// `token-sidecar emulate` as an app team runs it: spawned, its listing read from stdout.
interface Listed {
  process: ChildProcessWithoutNullStreams;
  blocks: Record<string, Record<string, string>>;
  exited: Promise<number | null>;
}

const running: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Parses `name` blocks of `  key  value` lines, as a shell script with awk would. */
function parseListing(text: string): Record<string, Record<string, string>> {
  const blocks: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const entry = /^ {2}(\w+) +(\S+)$/.exec(line);
    if (entry && current) current[entry[1] as string] = entry[2] as string;
    else if (/^[a-z][\w.-]*$/.test(line)) blocks[line] = current = {};
  }
  return blocks;
}

async function emulate(args: string[]): Promise<Listed> {
  const child = spawn(process.execPath, [CLI, 'emulate', ...args]);
  running.push(child);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  await waitFor(() => (/^ready: /m.test(stdout) ? true : child.exitCode !== null ? Promise.reject(new Error(`exited ${child.exitCode}`)) : undefined), { what: 'the emulate listing' });
  return { process: child, blocks: parseListing(stdout), exited };
}

describe('token-sidecar emulate', () => {
  it('prints each emulator with its URLs and demo credentials; a token from a printed URL works on the printed API', async () => {
    const { process: child, blocks, exited } = await emulate(['--port', '0', '--lifetime', '30']);
    expect(Object.keys(blocks)).toEqual(['covver', 'cobee', 'petje', 'light']);
    for (const block of Object.values(blocks)) {
      for (const key of ['tokenUrl', 'refreshUrl', 'apiUrl', 'clientId', 'clientSecret']) expect(block[key], key).toMatch(/\S/);
      expect(block.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }
    const covver = blocks.covver as Record<string, string>;
    const token = await request(covver.tokenUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grantType: 'clientCredentials', clientId: covver.clientId, clientSecret: covver.clientSecret }),
    });
    expect(token.statusCode).toBe(200);
    const { accessToken, expiresIn } = (await token.body.json()) as { accessToken: string; expiresIn: number };
    expect(expiresIn).toBe(30);
    const whoami = await request(`${covver.apiUrl}/whoami`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(((await whoami.body.json()) as { clientId: string }).clientId).toBe(covver.clientId);

    // The printed bootstrap refresh token of a consent provider is live.
    const light = blocks.light as Record<string, string>;
    const refreshed = await request(light.tokenUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: light.refreshToken as string, client_id: light.clientId as string, client_secret: light.clientSecret as string }).toString(),
    });
    expect(refreshed.statusCode).toBe(200);
    await refreshed.body.dump();
    expect(light.apiKey).toBe('demo-light-api-key');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Every port is released.
    await expect(request(covver.tokenUrl as string, { method: 'POST' })).rejects.toThrow();
  });

  it('stops with exit 0 on SIGINT too, and --json prints the same listing as one JSON line', async () => {
    const child = spawn(process.execPath, [CLI, 'emulate', '--port', '0', '--json']);
    running.push(child);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const line = await waitFor(() => (stdout.endsWith('\n') ? stdout : undefined), { what: 'the JSON listing' });
    const { emulators } = JSON.parse(line) as { emulators: Array<{ provider: string; tokenUrl: string; clientId: string }> };
    expect(emulators.map((entry) => entry.provider)).toEqual(['covver', 'cobee', 'petje', 'light']);
    expect(emulators[1]?.clientId).toBe('demo-cobee');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('with --config, a described provider gets an emulator from its description (routes and their secrets are not needed)', async () => {
    const file = await writeConfig({
      providers: {
        acme: {
          tokenUrl: 'https://auth.acme.example/v2/auth/login',
          encoding: 'json',
          grant: { fields: { grant: 'client', id: '{clientId}', key: '{clientSecret}' } },
          response: { accessToken: 'sessionToken', expiresIn: 'validFor' },
          send: { header: 'x-acme-session', scheme: 'Session' },
        },
      },
      routes: { acme: { provider: 'acme', upstream: 'https://api.acme.example', credentials: { clientId: '${env:NOT_SET_HERE}', clientSecret: '${file:/nonexistent}' } } },
    });
    const { process: child, blocks, exited } = await emulate(['--port', '0', '--config', file]);
    expect(Object.keys(blocks)).toEqual(['covver', 'cobee', 'petje', 'light', 'acme']);
    const acme = blocks.acme as Record<string, string>;
    expect(acme.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/auth\/login$/);
    const token = await request(acme.tokenUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant: 'client', id: acme.clientId, key: acme.clientSecret }),
    });
    expect(token.statusCode).toBe(200);
    const { sessionToken } = (await token.body.json()) as { sessionToken: string };
    const api = await request(`${acme.apiUrl}/whoami`, { headers: { 'x-acme-session': `Session ${sessionToken}` } });
    expect(api.statusCode).toBe(200);
    expect(((await api.body.json()) as { clientId: string }).clientId).toBe('demo-acme');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('exits 2 naming the key of a broken description in --config', async () => {
    const file = await writeConfig({ providers: { acme: { encoding: 'xml', grant: { fields: { id: '{clientId}' } } } }, routes: {} });
    const { code, stderr } = await runCli(['emulate', '--port', '0', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('providers.acme.encoding');
  });

  it.each([
    [['--port', '65534'], '--port'],
    [['--lifetime', '0'], '--lifetime'],
  ])('exits 2 naming the flag for %j', async (args, flag) => {
    const { code, stderr } = await runCli(['emulate', ...args]);
    expect(code).toBe(2);
    expect(stderr).toContain(flag);
  });
});
