// The emulators' public types. Everything here is re-exported from index.ts.

export type EmulatedProvider = 'covver' | 'cobee' | 'petje' | 'light';

export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
}

export interface EmulatorOptions {
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Access-token lifetime; default covver 600, cobee 86400, petje 3599, light 3600. */
  lifetimeSeconds?: number;
  /** Answer without expires_in/expiresIn (OAuth allows it). Tokens still expire after the lifetime. */
  omitExpiresIn?: boolean;
  /** Serve HTTPS instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Accepted client credentials; default [DEMO_CLIENTS[provider]]. */
  clients?: EmulatorClient[];
  /** Light only: static API keys accepted as `Authorization: Basic <key>`; default [DEMO_LIGHT_API_KEY]. */
  apiKeys?: string[];
  /** Clock in ms, default Date.now, so tests can move time instead of sleeping. */
  now?: () => number;
  /**
   * The documented rate limits (Light 300/min, Cobee): `headers` (default) sends the providers'
   * `X-RateLimit-*` headers without ever refusing, so load tests and benchmarks measure the
   * sidecar; `enforce` also answers 429 with `Retry-After` past the limit, as the real APIs do.
   */
  rateLimit?: 'headers' | 'enforce';
}

export type TokenFault =
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'html' }
  | { kind: 'garbage' }
  | { kind: 'huge'; bytes: number }
  | { kind: 'nullToken' }
  | { kind: 'expiresIn'; value: unknown };

export type ApiFault =
  | { kind: 'status'; status: number }
  | { kind: 'unauthorized' }
  | { kind: 'stall' }
  | { kind: 'resetMidBody' }
  | { kind: 'delay'; ms: number };

/** A fault and how many requests it applies to; `times` undefined = until cleared. */
export interface FaultPlan<F> {
  fault: F;
  times?: number;
}

export interface EmulatorStats {
  /** Every request that reached a token/refresh path, good or bad. */
  tokenRequests: number;
  /** Token requests by grant: client_credentials, refresh_token, authorization_code, or invalid (unparseable). */
  byGrant: Record<string, number>;
  /** Access tokens minted. */
  issuedTokens: number;
  apiRequests: number;
  /** API requests answered 401 (WebSocket upgrades included). */
  apiUnauthorized: number;
  /** API requests that presented a live credential. */
  apiAuthorized: number;
  /** Refresh tokens presented again after they were spent (a rotating provider revokes the family on each). */
  refreshReplays: number;
}

/** One running emulator; `P` is a built-in provider, or `string` for a described one (startDescribedEmulator). */
export interface Emulator<P extends string = EmulatedProvider> {
  /** The provider's name (a described provider: the name it was started under). */
  readonly provider: P;
  /** Origin, e.g. http://127.0.0.1:41234 (https:// when tls). */
  readonly url: string;
  readonly tokenUrl: string;
  /** Covver: .../api/ext/v1/oauth/refresh-token; the others: same as tokenUrl. */
  readonly refreshUrl: string;
  /** Base URL of the protected API (a sidecar route's `upstream`). */
  readonly apiUrl: string;
  /** Live counters, updated in place. */
  readonly stats: EmulatorStats;
  /** Lifetime of access tokens issued from now on. */
  setLifetime(seconds: number): void;
  /** Petje, Light: a one-time code for the authorization_code grant. */
  issueAuthorizationCode(clientId?: string): string;
  /** Covver, Petje, Light: a valid refresh token to bootstrap with (starts a new Light token family). */
  issueRefreshToken(clientId?: string): string;
  /** Whether this refresh token has been spent (a grant redeemed it). */
  refreshTokenSpent(refreshToken: string): boolean;
  /** Applies to the token and refresh paths; undefined clears. */
  injectTokenFault(plan: FaultPlan<TokenFault> | undefined): void;
  /** Applies to the protected API (WebSocket upgrades included); undefined clears. */
  injectApiFault(plan: FaultPlan<ApiFault> | undefined): void;
  /** Every access token issued so far now answers 401 on the API. */
  expireAllAccessTokens(): void;
  resetStats(): void;
  /** Closes the server and destroys every open socket, hung ones included. */
  close(): Promise<void>;
}

export interface EmulatorSet {
  covver: Emulator;
  cobee: Emulator;
  petje: Emulator;
  light: Emulator;
  close(): Promise<void>;
}

export type EmulatorSetOptions = Omit<EmulatorOptions, 'clients' | 'apiKeys'> & {
  perProvider?: Partial<Record<EmulatedProvider, EmulatorOptions>>;
};
