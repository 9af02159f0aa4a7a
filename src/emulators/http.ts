import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ReadBody {
  body: Buffer;
  /** The body was longer than the limit; `body` holds only its start. */
  overflow: boolean;
}

/** Reads the whole body, keeping at most `limit` bytes; rejects if the client goes away. */
export async function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let overflow = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (kept + chunk.length > limit) {
      overflow = true;
      continue;
    }
    chunks.push(chunk);
    kept += chunk.length;
  }
  return { body: Buffer.concat(chunks), overflow };
}

/** Counts the body's bytes without keeping them. */
export async function countBody(req: IncomingMessage): Promise<number> {
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) bytes += chunk.length;
  return bytes;
}

/** The raw path as received, query excluded. */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Statuses whose answers carry no body. */
export function isBodiless(status: number, method: string | undefined): boolean {
  return status === 204 || status === 205 || status === 304 || method === 'HEAD';
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json; charset=utf-8',
): void {
  if (isBodiless(status, res.req.method)) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Streams chunks with backpressure; a client leaving mid-stream just ends it. */
export async function streamChunks(res: ServerResponse, chunks: Iterable<Buffer>): Promise<void> {
  await pipeline(Readable.from(chunks), res).catch(() => undefined);
}

/** The client closed its side before the answer was written. */
export function clientGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/** Drops the connection with a TCP RST where possible (TLS sockets cannot: plain destroy). */
export function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
