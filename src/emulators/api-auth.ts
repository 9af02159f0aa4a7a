import type { IncomingMessage } from 'node:http';
import type { TokenOwner, TokenStore } from './tokens.js';

/** The client id an API key request is attributed to. */
export const API_KEY_CLIENT_ID = 'api-key';

export interface ApiCredentials {
  store: TokenStore;
  /** Light only: raw keys accepted as `Authorization: Basic <key>`. */
  apiKeys: ReadonlySet<string>;
}

/** The owner of the request's credential, if it is live: a Bearer access token or (Light) a raw API key. */
export function authenticate(req: IncomingMessage, credentials: ApiCredentials): TokenOwner | undefined {
  const match = /^(\w+) +(\S+)\s*$/.exec(req.headers.authorization ?? '');
  if (match === null) return undefined;
  const scheme = match[1]?.toLowerCase();
  const value = match[2] ?? '';
  if (scheme === 'bearer') return credentials.store.authenticate(value);
  if (scheme === 'basic' && credentials.apiKeys.has(value)) return { clientId: API_KEY_CLIENT_ID };
  return undefined;
}
