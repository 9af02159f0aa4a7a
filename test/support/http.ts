// HTTP helpers shared by the suites that drive the built sidecar: calls that resolve on any
// status, and a route config for an emulator with its demo credentials.
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { DEMO_CLIENTS, type Emulator } from '../../src/emulators/index.js';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Json | undefined;
}

/** One HTTP exchange; any status resolves. A fresh connection per call unless a dispatcher is given. */
export async function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable; dispatcher?: Dispatcher } = {}): Promise<Answer> {
  const res = await request(url, {
    method: (options.method ?? (options.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  });
  const text = await res.body.text();
  let json: Json | undefined;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** A route for `emulator` with its demo credentials (Petje and Light bootstrap with a fresh refresh token). */
export function routeFor(emulator: Emulator, overrides: { credentials?: Json; tokenUrl?: string; upstream?: string } & Json = {}): Json {
  const { credentials, ...rest } = overrides;
  const demo = DEMO_CLIENTS[emulator.provider];
  const base: Json = { clientId: demo.clientId, clientSecret: demo.clientSecret };
  if (emulator.provider === 'petje' || emulator.provider === 'light') base.refreshToken = emulator.issueRefreshToken();
  return {
    provider: emulator.provider,
    upstream: emulator.apiUrl,
    tokenUrl: emulator.tokenUrl,
    ...rest,
    credentials: { ...base, ...credentials },
  };
}
