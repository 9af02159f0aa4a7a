import type { IssuedTokens, TokenOwner, TokenStore } from './tokens.js';

/** A token request a dialect has parsed: the same three grants whatever the wire format. */
export type GrantRequest =
  | { grant: 'client_credentials'; clientId: string; clientSecret: string; companyId?: string | number }
  | { grant: 'authorization_code'; clientId: string; clientSecret: string; code: string }
  | { grant: 'refresh_token'; refreshToken: string; clientId?: string; clientSecret?: string };

export type GrantFailure = 'invalid_client' | 'invalid_code' | 'invalid_refresh_token';

export type GrantOutcome = { ok: true; tokens: IssuedTokens } | { ok: false; failure: GrantFailure };

export interface GrantContext {
  store: TokenStore;
  /** clientId → clientSecret */
  clients: ReadonlyMap<string, string>;
  onIssued: () => void;
}

/** Runs a grant against the store. Client authentication comes first, so a stranger cannot spend or revoke tokens. */
export function executeGrant(request: GrantRequest, context: GrantContext): GrantOutcome {
  const { store, clients } = context;
  if (request.clientId !== undefined && clients.get(request.clientId) !== request.clientSecret) {
    return { ok: false, failure: 'invalid_client' };
  }
  const granted = resolveOwner(request, store);
  if (!granted.ok) return granted;
  context.onIssued();
  return { ok: true, tokens: store.issue(granted.owner, granted.family) };
}

type Resolved = { ok: true; owner: TokenOwner; family?: string } | { ok: false; failure: GrantFailure };

/** Whom the grant speaks for, and the token family it continues (a new one unless refreshing). */
function resolveOwner(request: GrantRequest, store: TokenStore): Resolved {
  switch (request.grant) {
    case 'client_credentials': {
      const { clientId, companyId } = request;
      return { ok: true, owner: { clientId, ...(companyId === undefined ? {} : { companyId }) } };
    }
    case 'authorization_code': {
      const owner = store.redeemAuthorizationCode(request.code, request.clientId);
      return owner === undefined ? { ok: false, failure: 'invalid_code' } : { ok: true, owner };
    }
    case 'refresh_token': {
      const redeemed = store.redeemRefreshToken(request.refreshToken, request.clientId);
      if (redeemed === undefined) return { ok: false, failure: 'invalid_refresh_token' };
      const { family, ...owner } = redeemed;
      return { ok: true, owner, family };
    }
  }
}
