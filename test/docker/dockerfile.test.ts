import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validate } from 'dockerfile-utils';

// No Docker engine here: lint the Dockerfile with dockerfile-utils and assert what we rely on.
const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
const dockerignore = readFileSync(`${root}.dockerignore`, 'utf8');

/** Instructions with their continuation lines joined, comments dropped. */
function instructions(text: string): { keyword: string; args: string }[] {
  const out: { keyword: string; args: string }[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m?.[1] !== undefined) out.push({ keyword: m[1].toUpperCase(), args: m[2] ?? '' });
  }
  return out;
}

const all = instructions(dockerfile);
const of = (keyword: string) => all.filter((i) => i.keyword === keyword);
/** Instructions of the final stage (after the last FROM). */
const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
const runtime = all.slice(lastFrom);

describe('Dockerfile', () => {
  it('has no dockerfile-utils diagnostics', () => {
    expect(validate(dockerfile)).toEqual([]);
  });

  it('is multi-stage on the pinned node:26-trixie-slim base (the newest Node LTS line)', () => {
    const froms = of('FROM').map((f) => f.args);
    expect(froms.length).toBeGreaterThanOrEqual(3);
    expect(froms[0]).toMatch(/^node:26-trixie-slim AS \w+$/);
    // Every later stage builds on that one pinned base (no second, unpinned image).
    for (const f of froms.slice(1)) expect(f).toMatch(/^base AS \w+$/);
  });

  it('builds with dev dependencies and ships only dist/ and production dependencies', () => {
    const runs = of('RUN').map((r) => r.args);
    expect(runs.some((r) => /\bnpm ci\b(?!.*--omit=dev)/.test(r))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    // The pinned Node binaries are optional dependencies: never a second Node in the image.
    for (const r of runs.filter((x) => /\bnpm ci\b/.test(x))) expect(r).toContain('--omit=optional');

    const copies = runtime.filter((i) => i.keyword === 'COPY').map((c) => c.args);
    expect(copies).toContainEqual(expect.stringMatching(/--from=deps .*\/app\/node_modules \.\/node_modules$/));
    expect(copies).toContainEqual(expect.stringMatching(/--from=build .*\/app\/dist \.\/dist$/));
    // Nothing else from the context but package.json ("type": "module"): no src/, no tests.
    const fromContext = copies.filter((c) => !c.includes('--from='));
    expect(fromContext).toEqual([expect.stringMatching(/package\.json \.\/$/)]);
    // The runtime stage never runs npm (no dev tree, no cache).
    expect(runtime.filter((i) => i.keyword === 'RUN' && /\bnpm\b/.test(i.args))).toEqual([]);
  });

  it('copies into the build stage every script the bundle step reads (a missing one fails only at docker build)', () => {
    const bundle = readFileSync(`${root}scripts/bundle.mjs`, 'utf8');
    const read = [...bundle.matchAll(/'(scripts\/[\w.-]+\.mjs)'/g)].map((match) => match[1] as string);
    expect(read).toEqual(expect.arrayContaining(['scripts/undici-core.mjs', 'scripts/prom-client-core.mjs']));
    const copied = of('COPY').flatMap((copy) => copy.args.split(/\s+/));
    const allowed = dockerignore.split('\n').map((line) => line.trim());
    for (const file of ['scripts/bundle.mjs', ...read]) {
      expect(copied, file).toContain(file);
      // .dockerignore is an allow-list: the file must be let into the context too.
      expect(allowed, file).toContain(`!${file}`);
    }
  });

  it('runs as a non-root numeric user', () => {
    const users = runtime.filter((i) => i.keyword === 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]?.args).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(users[0]?.args.split(':')[0]).toBe('10001');
    // USER comes after every COPY/RUN of the runtime stage, so it is what the container runs as.
    const userIndex = runtime.findIndex((i) => i.keyword === 'USER');
    expect(runtime.slice(userIndex).some((i) => i.keyword === 'RUN' || i.keyword === 'COPY')).toBe(false);
  });

  it('uses exec-form node as PID 1 with the default config path', () => {
    const entrypoints = of('ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    expect(JSON.parse(entrypoints[0]?.args ?? '')).toEqual(['node', 'dist/cli.js']);
    const cmds = of('CMD');
    expect(cmds).toHaveLength(1);
    expect(JSON.parse(cmds[0]?.args ?? '')).toEqual(['--config', '/etc/token-sidecar/config.yaml']);
    // No tini/dumb-init/shell wrapper in front of node.
    const executed = all.filter((i) => ['RUN', 'ENTRYPOINT', 'CMD'].includes(i.keyword)).map((i) => i.args);
    expect(executed.filter((a) => /tini|dumb-init/.test(a))).toEqual([]);
  });

  it('exposes the proxy and admin ports', () => {
    const ports = of('EXPOSE').flatMap((e) => e.args.split(/\s+/));
    expect(ports.sort()).toEqual(['8080', '9464']);
  });

  it('carries OCI labels', () => {
    const labels = runtime.filter((i) => i.keyword === 'LABEL').map((l) => l.args).join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'licenses', 'source']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('writes nowhere but /tmp at run time (read-only root filesystem)', () => {
    const env = runtime.filter((i) => i.keyword === 'ENV').map((e) => e.args).join(' ');
    expect(env).toMatch(/HOME=\/tmp\b/);
    expect(env).toMatch(/TMPDIR=\/tmp\b/);
    // No VOLUME: the writable paths are declared by the deployment (emptyDir), not the image.
    expect(of('VOLUME')).toEqual([]);
  });
});

describe('.dockerignore', () => {
  it('is an allow-list that keeps node_modules, dist and .git out of the context', () => {
    const lines = dockerignore.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    expect(lines).toEqual(expect.arrayContaining(['!package.json', '!package-lock.json', '!src/']));
    expect(lines.some((l) => /^!(node_modules|dist|\.git)/.test(l))).toBe(false);
  });
});
