import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredGrant, TokenStore } from '../store.js';

/**
 * One JSON file, replaced atomically (write a temp file, fsync, rename) so a crash never leaves
 * half a file and a rotated refresh token survives restarts. Mode 0600: it holds secrets.
 */
export class FileStore implements TokenStore {
  readonly #path: string;
  #grants: Record<string, StoredGrant> | undefined;
  #writes: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  async #load(): Promise<Record<string, StoredGrant>> {
    if (this.#grants) return this.#grants;
    try {
      this.#grants = JSON.parse(await readFile(this.#path, 'utf8')) as Record<string, StoredGrant>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`store.path ${this.#path} is unreadable or not JSON: ${(error as Error).message}`, { cause: error });
      this.#grants = {};
    }
    return this.#grants;
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    return (await this.#load())[key];
  }

  set(key: string, grant: StoredGrant): Promise<void> {
    // Writes are serialised so two rotations never race on the temp file.
    const write = this.#writes.then(async () => {
      const grants = await this.#load();
      grants[key] = grant;
      await mkdir(dirname(this.#path), { recursive: true });
      const temp = `${this.#path}.${process.pid}.tmp`;
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(grants));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#path);
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  async close(): Promise<void> {
    await this.#writes;
  }
}
