// The file store holds refresh tokens: it writes safely (issue "Hostile input", point 6) and
// shares the file with other processes (issue "Never lose a grant", point 7).
import { lstat, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/token/stores/file.js';
import { CorruptGrantError } from '../../src/token/stores/grant-json.js';

const grant = (generation: number, refreshToken = `r${generation}`) => ({ refreshToken, generation, updatedAt: generation });

describe('FileStore', () => {
  it('creates its directory 0700 and the file 0600, whatever the umask', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'state', 'grants.json');
    const previous = process.umask(0o000);
    try {
      await new FileStore(path).set('k', grant(1));
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('a planted temp file or symlink at the old predictable name is never written through', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'grants.json');
    const target = join(dir, 'attacker-readable');
    await writeFile(target, 'untouched', { mode: 0o644 });
    // The old temp name was `<path>.<pid>.tmp` (pid 1 in a container).
    await symlink(target, `${path}.${process.pid}.tmp`);
    await symlink(target, `${path}.1.tmp`);
    await new FileStore(path).set('k', grant(1, 'secret-refresh-token'));
    expect(await readFile(target, 'utf8')).toBe('untouched');
    expect((await lstat(path)).isSymbolicLink()).toBe(false);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toContain('secret-refresh-token');
  });

  it('sees a grant another process wrote (the file was replaced), and refuses a stale write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'grants.json');
    const sidecar = new FileStore(path);
    const authorize = new FileStore(path);
    await sidecar.set('k', grant(1));
    expect((await sidecar.get('k'))?.generation).toBe(1);
    await authorize.set('k', grant(2, 'new-consent'));
    expect((await sidecar.get('k'))?.refreshToken).toBe('new-consent');
    expect(await sidecar.set('k', grant(2, 'stale'))).toEqual({ written: false, current: grant(2, 'new-consent') });
    expect((await authorize.get('k'))?.refreshToken).toBe('new-consent');
  });

  it('serialises writers across instances with a lock file: concurrent writes all land', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'grants.json');
    const stores = Array.from({ length: 4 }, () => new FileStore(path));
    await Promise.all(stores.flatMap((store, index) => Array.from({ length: 10 }, (_, n) => store.set(`key-${index}-${n}`, grant(1)))));
    const written = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(written)).toHaveLength(40);
  });

  it('a file that is not JSON is an error on read (never "nothing stored")', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'grants.json');
    await writeFile(path, '{"k": {"refreshToken": ');
    await expect(new FileStore(path).get('k')).rejects.toBeInstanceOf(CorruptGrantError);
  });

  it('a written-back grant keeps its reseeded mark through the file (the hold depends on it); a mark of another type is corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-file-store-'));
    const path = join(dir, 'grants.json');
    await new FileStore(path).set('k', { ...grant(3), reseeded: 'a1b2' });
    expect((await new FileStore(path).get('k'))?.reseeded).toBe('a1b2');
    await writeFile(path, JSON.stringify({ k: { ...grant(3), reseeded: true } }));
    await expect(new FileStore(path).get('k')).rejects.toBeInstanceOf(CorruptGrantError);
  });
});
