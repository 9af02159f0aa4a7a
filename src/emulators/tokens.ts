import { JwtMinter, opaque } from './jwt.js';

/** Who a token speaks for: the client, and for Covver the optional company. */
export interface TokenOwner {
  clientId: string;
  companyId?: string | number;
}

/**
 * What happens to a refresh token once used:
 * keep = stays valid (a new one is returned too); rotate = dies, reuse is invalid_grant;
 * rotate-revoke-family = dies, and reuse revokes every token descended from the same authorization.
 */
export type RefreshPolicy = 'none' | 'keep' | 'rotate' | 'rotate-revoke-family';

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresIn: number;
}

interface AccessRecord extends TokenOwner {
  family: string;
  expiresAt: number;
  expired: boolean;
}

interface RefreshRecord extends TokenOwner {
  family: string;
  expiresAt: number | undefined;
  used: boolean;
}

export interface TokenStoreOptions {
  provider: string;
  now: () => number;
  lifetimeSeconds: number;
  refreshPolicy: RefreshPolicy;
  refreshLifetimeSeconds?: number;
  /** Called when a spent refresh token is presented again. */
  onReplay?: () => void;
}

/** Every token, code and family one emulator has issued, judged against the injected clock. */
export class TokenStore {
  lifetimeSeconds: number;
  private readonly access = new Map<string, AccessRecord>();
  private readonly refresh = new Map<string, RefreshRecord>();
  private readonly codes = new Map<string, TokenOwner>();
  private readonly revokedFamilies = new Set<string>();
  private readonly jwt = new JwtMinter();
  private pruneAt = 1024;

  constructor(private readonly options: TokenStoreOptions) {
    this.lifetimeSeconds = options.lifetimeSeconds;
  }

  /** Mints an access token (and a refresh token unless the policy is 'none') in `family`, new by default. */
  issue(owner: TokenOwner, family: string = opaque('family-')): IssuedTokens {
    const now = this.options.now();
    const expiresIn = this.lifetimeSeconds;
    const expiresAt = now + expiresIn * 1000;
    const accessToken = this.jwt.mint({
      iss: this.options.provider,
      sub: owner.clientId,
      id: `member-${owner.clientId}`,
      name: 'Demo Member',
      email: 'demo.member@example.test',
      ...(owner.companyId === undefined ? {} : { companyId: owner.companyId }),
      iat: Math.floor(now / 1000),
      exp: Math.floor(expiresAt / 1000),
      jti: opaque(''),
    });
    this.access.set(accessToken, { ...owner, family, expiresAt, expired: false });
    if (this.access.size >= this.pruneAt) this.pruneAccess(now);
    if (this.options.refreshPolicy === 'none') return { accessToken, expiresIn };
    return { accessToken, refreshToken: this.newRefreshToken(owner, family), expiresIn };
  }

  /** A refresh token that starts a new family. */
  newRefreshToken(owner: TokenOwner, family: string = opaque('family-')): string {
    const token = opaque('rt-');
    const lifetime = this.options.refreshLifetimeSeconds;
    const expiresAt = lifetime === undefined ? undefined : this.options.now() + lifetime * 1000;
    this.refresh.set(token, { ...owner, family, expiresAt, used: false });
    return token;
  }

  newAuthorizationCode(clientId: string): string {
    const code = opaque('code-');
    this.codes.set(code, { clientId });
    return code;
  }

  /** One-time: the code is gone after this call whatever the outcome. */
  redeemAuthorizationCode(code: string, clientId: string): TokenOwner | undefined {
    const owner = this.codes.get(code);
    if (owner === undefined) return undefined;
    this.codes.delete(code);
    return owner.clientId === clientId ? owner : undefined;
  }

  /** Spends a refresh token under the policy; returns its owner and family, or undefined (invalid grant). */
  redeemRefreshToken(token: string, clientId: string | undefined): (TokenOwner & { family: string }) | undefined {
    const record = this.refresh.get(token);
    if (record === undefined || this.revokedFamilies.has(record.family)) return undefined;
    if (clientId !== undefined && record.clientId !== clientId) return undefined;
    if (record.expiresAt !== undefined && this.options.now() >= record.expiresAt) return undefined;
    const policy = this.options.refreshPolicy;
    if (record.used) {
      this.options.onReplay?.();
      if (policy === 'rotate-revoke-family') this.revokedFamilies.add(record.family);
      return undefined;
    }
    if (policy === 'rotate' || policy === 'rotate-revoke-family') record.used = true;
    const { family, clientId: owner, companyId } = record;
    return { family, clientId: owner, ...(companyId === undefined ? {} : { companyId }) };
  }

  /** Whether a refresh token was redeemed (under a rotating policy: spent). */
  refreshTokenSpent(token: string): boolean {
    return this.refresh.get(token)?.used === true;
  }

  /** The owner of a live access token: known, not expired, not revoked. */
  authenticate(accessToken: string): TokenOwner | undefined {
    const record = this.access.get(accessToken);
    if (record === undefined || record.expired || this.revokedFamilies.has(record.family)) return undefined;
    if (this.options.now() >= record.expiresAt) return undefined;
    const { clientId, companyId } = record;
    return { clientId, ...(companyId === undefined ? {} : { companyId }) };
  }

  /** Forgets dead access tokens (they answer 401 either way) so long benchmarks stay flat in memory. */
  private pruneAccess(now: number): void {
    for (const [token, record] of this.access) {
      if (record.expired || now >= record.expiresAt || this.revokedFamilies.has(record.family)) this.access.delete(token);
    }
    this.pruneAt = Math.max(1024, this.access.size * 2);
  }

  expireAllAccessTokens(): void {
    for (const record of this.access.values()) record.expired = true;
  }
}
