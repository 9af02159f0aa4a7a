import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A lock file shared by processes on one filesystem: created exclusively (`wx`), removed on
 * release. One left behind by a process that died is taken over once older than `staleMs`.
 */
export class FileLock {
  constructor(
    private readonly path: string,
    private readonly options: { readonly waitMs: number; readonly staleMs: number },
  ) {}

  async hold<T>(work: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await work();
    } finally {
      await unlink(this.path).catch(() => undefined);
    }
  }

  async #acquire(): Promise<void> {
    const deadline = Date.now() + this.options.waitMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const handle = await open(this.path, 'wx', 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const age = await stat(this.path).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > this.options.staleMs) {
        await unlink(this.path).catch(() => undefined);
        continue;
      }
      if (Date.now() >= deadline) throw new Error(`lock file ${this.path} is held by another process; if none runs, remove it`);
      // Files have no wake-up; writers hold the lock for milliseconds, so short waits suffice.
      await delay(Math.min(5 * 2 ** Math.min(attempt, 4), 50));
    }
  }
}
