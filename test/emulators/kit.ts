// Shared test kit for the emulator tests: a movable clock and small HTTP helpers over undici.
import { once } from 'node:events';
import { request } from 'undici';
import type { Dispatcher } from 'undici';

/** A clock tests move by hand; starts at a fixed instant so JWT `exp` values are predictable. */
export class ManualClock {
  ms = Date.UTC(2030, 0, 1);
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined if it is not JSON. */
  json: unknown;
}

export interface CallOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  dispatcher?: Dispatcher;
  headersTimeout?: number;
  signal?: AbortSignal;
}

export async function call(url: string, options: CallOptions = {}): Promise<Answer> {
  const res = await request(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: options.headers,
    body: options.body,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.headersTimeout ? { headersTimeout: options.headersTimeout } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return call(url, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

export function postForm(url: string, fields: Record<string, string>): Promise<Answer> {
  return call(url, {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

export function bearer(token: unknown): Record<string, string> {
  return { authorization: `Bearer ${String(token)}` };
}

/** The payload of a JWT-shaped token. */
export function jwtPayload(token: unknown): Record<string, unknown> {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error(`not JWT-shaped: ${String(token)}`);
  return JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The JSON body as a record, for property assertions. */
export function body(answer: Answer): Record<string, unknown> {
  if (typeof answer.json !== 'object' || answer.json === null) throw new Error(`not a JSON object: ${answer.text}`);
  return answer.json as Record<string, unknown>;
}

/** Opens a WebSocket expecting the upgrade to be refused; resolves with the error message (it names the status). */
export async function refusedUpgrade(url: string, headers: Record<string, string>): Promise<string> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, { headers });
  const [error] = (await once(ws, 'error')) as [Error];
  return error.message;
}
