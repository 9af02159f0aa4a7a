import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as source from '../../src/emulators/index.js';

// The emulators as an app team gets them: `import ... from 'token-sidecar/emulators'`, resolved
// through package.json `exports` (here by package self-reference, in an app from node_modules).
const ROOT = resolve(import.meta.dirname, '../..');
const APP = resolve(ROOT, 'test/fixtures/app');

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, reject) => {
    const child = spawn(command, args, { cwd: ROOT });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => done({ code, output }));
  });
}

describe("the package's emulators entry point", () => {
  it('package.json exports ./emulators with its types, and ships them', () => {
    const manifest = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }>; files: string[] };
    expect(manifest.exports['./emulators']).toEqual({ types: './dist/emulators/index.d.ts', default: './dist/emulators/index.js' });
    expect(manifest.files).toContain('dist');
    expect(readFileSync(resolve(ROOT, 'dist/emulators/index.d.ts'), 'utf8')).toContain('startEmulator');
  });

  it('resolves to the same API as the source', async () => {
    const specifier = 'token-sidecar/emulators';
    const built = (await import(specifier)) as Record<string, unknown>;
    expect(Object.keys(built).sort()).toEqual(Object.keys(source).sort());
  });

  it("the README's app-test example is the one run here", () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    const example = /run in CI as \[`test\/fixtures\/app\/emulators\.app-test\.ts`\][^\n]*\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const fixture = readFileSync(resolve(APP, 'emulators.app-test.ts'), 'utf8').replace(/^(\/\/.*\n)+/, '');
    expect(example).toBe(fixture);
  });

  it("an app's own test imports it with plain node and passes", async () => {
    const { code, output } = await run(process.execPath, ['--test', '--test-reporter=tap', resolve(APP, 'emulators.app-test.ts')]);
    expect(output).toContain('# pass 2');
    expect(code).toBe(0);
  });

  it("an app's TypeScript type-checks against the shipped declarations", async () => {
    const { code, output } = await run(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', resolve(APP, 'tsconfig.json')]);
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});
