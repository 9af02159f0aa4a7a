import type { IncomingMessage } from 'node:http';
import type { TokenOwner, TokenStore } from './tokens.js';

/** The client id an API key request is attributed to. */
export const API_KEY_CLIENT_ID = 'api-key';

export interface ApiCredentials {
  store: TokenStore;
  /** A described provider's header (lower case) and scheme ('' = the bare token); default `Authorization: Bearer`. */
  sends?: { header: string; scheme: string } | undefined;
  /** Light only: raw keys accepted as `Authorization: Basic <key>`. */
  apiKeys: ReadonlySet<string>;
}

/** The owner of the request's credential, if it is live: a Bearer access token or (Light) a raw API key. */
export function authenticate(req: IncomingMessage, credentials: ApiCredentials): TokenOwner | undefined {
  if (credentials.sends !== undefined) return described(req, credentials.store, credentials.sends);
  const match = /^(\w+) +(\S+)\s*$/.exec(req.headers.authorization ?? '');
  if (match === null) return undefined;
  const scheme = match[1]?.toLowerCase();
  const value = match[2] ?? '';
  if (scheme === 'bearer') return credentials.store.authenticate(value);
  if (scheme === 'basic' && credentials.apiKeys.has(value)) return { clientId: API_KEY_CLIENT_ID };
  return undefined;
}

/** A described provider's token: in its own header, after its scheme (or bare). */
function described(req: IncomingMessage, store: TokenStore, sends: { header: string; scheme: string }): TokenOwner | undefined {
  const raw = req.headers[sends.header];
  const value = typeof raw === 'string' ? raw.trim() : undefined;
  if (value === undefined) return undefined;
  if (sends.scheme === '') return store.authenticate(value);
  const match = /^(\S+) +(\S+)$/.exec(value);
  return match !== null && match[1]?.toLowerCase() === sends.scheme.toLowerCase() ? store.authenticate(match[2] ?? '') : undefined;
}
