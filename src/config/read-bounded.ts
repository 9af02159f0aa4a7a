import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A file larger than its cap: the error names the cap, never the content. */
export class FileTooLarge extends Error {
  readonly code = 'EFBIG';
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
    this.name = 'FileTooLarge';
  }
}

/**
 * Reads a UTF-8 file of at most `limit` bytes, refusing a larger one before reading it (by its
 * size, and by counting for files that have none: /dev/zero, a FIFO, /proc). Throws the fs error
 * (with its `code`) or FileTooLarge.
 */
export function readBounded(path: string, limit: number): string {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).size > limit) throw new FileTooLarge(limit);
    const buffer = Buffer.alloc(Math.min(limit + 1, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) break;
      total += read;
      if (total > limit) throw new FileTooLarge(limit);
      chunks.push(Buffer.from(buffer.subarray(0, read)));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
