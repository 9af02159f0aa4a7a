import { createHash } from 'node:crypto';
import type { CredentialValues, ProviderDialect, TokenHttpRequest, TokenUrls } from '../providers/types.js';
import type { StoredGrant } from './store.js';

/** A fingerprint of a bootstrap refresh token: tells a new bootstrap from the stored chain. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** The token requests to try, in order, and the refresh chain they continue. */
export interface GrantPlan {
  /** Refresh grant first (when there is a refresh token), then the initial grant as fallback. */
  readonly attempts: readonly TokenHttpRequest[];
  /** The refresh token the plan spends (kept if the answer returns none). */
  readonly refreshToken: string | undefined;
  /** The bootstrap fingerprint the resulting grant descends from. */
  readonly bootstrap: string | undefined;
}

/**
 * Decides how to get the next token. The stored chain wins over the config's bootstrap refresh
 * token, unless the config's bootstrap changed since the chain began (a new consent). A provider
 * with both grants tries the refresh grant, then falls back if the dialect allows it.
 */
export function planGrants(dialect: ProviderDialect, credentials: CredentialValues, stored: StoredGrant | undefined, urls: TokenUrls): GrantPlan {
  const configured = credentials.refreshToken === undefined ? undefined : fingerprint(credentials.refreshToken);
  const chained = stored?.refreshToken !== undefined && (configured === undefined || stored.bootstrap === configured);
  const refreshToken = chained ? stored?.refreshToken : credentials.refreshToken;
  const attempts: TokenHttpRequest[] = [];
  if (refreshToken !== undefined && dialect.refreshGrant) attempts.push(dialect.refreshGrant(credentials, refreshToken, urls));
  const initial = dialect.initialGrant(credentials, urls);
  if (initial && (attempts.length === 0 || dialect.fallBackToInitialGrant)) attempts.push(initial);
  return { attempts, refreshToken, bootstrap: chained ? stored?.bootstrap : configured };
}
