import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { supersedes, type StoredGrant, type TokenStore, type WriteResult } from '../store.js';
import { CorruptGrantError, toGrant } from './grant-json.js';
import { FileLock } from './file-lock.js';

type Grants = Record<string, unknown>;

/**
 * One JSON file of grants, shared by the sidecar and `token-sidecar authorize` (or several
 * processes on one volume). Reads follow the file when another process replaced it (inode,
 * mtime, size); writes take a lock file, re-read, compare-and-set, and replace the file
 * atomically: a random temp name created exclusively with mode 0600 (never through a planted
 * file or symlink), fsync, rename, fsync of the directory so the rename survives a crash.
 */
export class FileStore implements TokenStore {
  readonly #path: string;
  readonly #lock: FileLock;
  #cache: { stamp: string; grants: Grants } | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: { lockWaitMs?: number; staleLockMs?: number } = {}) {
    this.#path = path;
    this.#lock = new FileLock(`${path}.lock`, { waitMs: options.lockWaitMs ?? 5_000, staleMs: options.staleLockMs ?? 30_000 });
  }

  async #read(): Promise<Grants> {
    let stamp: string;
    try {
      const info = await stat(this.#path);
      stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    if (this.#cache?.stamp === stamp) return this.#cache.grants;
    const text = await readFile(this.#path, 'utf8');
    let grants: unknown;
    try {
      grants = JSON.parse(text);
    } catch {
      throw new CorruptGrantError(`store.path ${this.#path}`);
    }
    if (typeof grants !== 'object' || grants === null || Array.isArray(grants)) throw new CorruptGrantError(`store.path ${this.#path}`);
    this.#cache = { stamp, grants: grants as Grants };
    return this.#cache.grants;
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    const value = (await this.#read())[key];
    return value === undefined ? undefined : toGrant(value, `store.path ${this.#path} (one grant)`);
  }

  set(key: string, grant: StoredGrant): Promise<WriteResult> {
    // In-process writes queue up; across processes the lock file serialises them.
    const write = this.#writes.then(async () => {
      // Created 0700: the directory holds refresh tokens (and the lock file beside them).
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
      return this.#lock.hold(() => this.#compareAndSet(key, grant));
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  async #compareAndSet(key: string, grant: StoredGrant): Promise<WriteResult> {
    let grants: Grants;
    try {
      grants = await this.#read();
    } catch (error) {
      // A corrupt file is replaced by what the writer holds; an unreadable one is an error.
      if (!(error instanceof CorruptGrantError)) throw error;
      grants = {};
    }
    let current: StoredGrant | undefined;
    try {
      current = grants[key] === undefined ? undefined : toGrant(grants[key], 'stored grant');
    } catch {
      current = undefined;
    }
    if (!supersedes(grant, current)) return { written: false, current };
    await this.#replace({ ...grants, [key]: grant });
    return { written: true };
  }

  async #replace(grants: Grants): Promise<void> {
    const directory = dirname(this.#path);
    const temp = `${this.#path}.${randomBytes(8).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(grants));
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(temp, this.#path);
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.#cache = undefined;
  }

  /**
   * Tells the caller of grants another process wrote (`token-sidecar authorize`): the file is
   * polled (stat follows a replaced file), and each grant whose generation changed is reported.
   */
  onChange(listener: (key: string, grant: StoredGrant | undefined) => void): () => void {
    const seen = new Map<string, number>();
    const report = async () => {
      try {
        for (const [key, value] of Object.entries(await this.#read())) {
          const grant = toGrant(value, 'stored grant');
          if (seen.get(key) === grant.generation) continue;
          seen.set(key, grant.generation);
          listener(key, grant);
        }
      } catch {
        // An unreadable file is reported by the next get().
      }
    };
    void report();
    const poll = () => void report();
    watchFile(this.#path, { interval: 500, persistent: false }, poll);
    return () => unwatchFile(this.#path, poll);
  }

  async close(): Promise<void> {
    await this.#writes;
  }
}
