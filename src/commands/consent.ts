import { createHash, randomBytes } from 'node:crypto';
import type { RouteConfig } from '../config/load.js';
import { UsageError } from './authorize.js';

/** One consent round of `token-sidecar authorize` with PKCE (RFC 7636 S256): kept in memory only. */
export interface Consent {
  /** The authorization URL the operator opens. */
  readonly url: string;
  readonly state: string;
  readonly codeVerifier: string;
}

export function startConsent(route: RouteConfig): Consent {
  const state = randomBytes(16).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  const url = route.dialect.authorizationUrl?.(route.credentials.read(), { state, codeChallenge });
  if (url === undefined) throw new UsageError(`route "${route.name}" sets no authorizeUrl: pass --code CODE, or set routes.${route.name}.authorizeUrl to get a consent URL`);
  return { url, state, codeVerifier };
}

/**
 * The code from what the operator pastes: the address the browser was sent back to (its `state`
 * must match, or the code belongs to another consent) or the bare code.
 */
export function codeFromAnswer(answer: string, consent: Pick<Consent, 'state'>): string {
  const text = answer.trim();
  if (!/^https?:\/\//i.test(text)) {
    if (text.length === 0) throw new UsageError('no authorization code was given');
    return text;
  }
  const params = new URL(text).searchParams;
  const error = params.get('error');
  if (error !== null) throw new UsageError(`the authorization server answered ${error}${params.get('error_description') ? ` (${params.get('error_description')})` : ''}; nothing was stored`);
  if (params.get('state') !== consent.state) throw new UsageError('the redirect carries another state than this consent: open the URL printed by this run and paste where it sends you');
  const code = params.get('code');
  if (code === null) throw new UsageError('the redirect address carries no code parameter');
  return code;
}
