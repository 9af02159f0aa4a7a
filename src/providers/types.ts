import type { z } from 'zod';

/** The grant a token request uses; also the `grant` metric label. */
export type Grant = 'client_credentials' | 'refresh_token' | 'authorization_code';

/** A token request as a dialect builds it; the token client sends it. Never logged. */
export interface TokenHttpRequest {
  readonly grant: Grant;
  readonly url: string;
  readonly encoding: 'json' | 'form';
  /** Form or JSON fields; a list repeats the field (RFC 8707 `resource`). */
  readonly fields: Readonly<Record<string, string | readonly string[]>>;
  /** Extra request headers (HTTP Basic client authentication). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Fields that must be made fresh at each send (an RFC 7523 assertion: unique jti, short exp). */
  readonly signedFields?: () => Promise<Readonly<Record<string, string>>>;
}

/** A validated token-endpoint answer. */
export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** undefined when the provider omitted it: the configured default lifetime applies. */
  readonly expiresInSeconds: number | undefined;
}

/** Resolved credential values of one route (secrets included: never log this object). */
export type CredentialValues = Readonly<Record<string, string | undefined>>;

export interface TokenUrls {
  readonly tokenUrl: string;
  readonly refreshUrl: string;
}

/** Route keys that shape a dialect's requests (generic oauth2 only); validated in config/schema.ts. */
export interface RouteOptions {
  readonly clientAuth?: string | undefined;
  readonly tokenParams?: Readonly<Record<string, string>> | undefined;
  readonly authorizeUrl?: string | undefined;
}

/** How a token goes to the upstream: `<header>: <scheme> <token>` (no scheme: the bare token). */
export interface TokenInjection {
  /** Lower-case header name. */
  readonly header: string;
  readonly scheme: string;
}

/** What the consent URL of `token-sidecar authorize` carries besides the route's own values. */
export interface AuthorizationRequest {
  readonly state: string;
  /** RFC 7636 S256 challenge of the verifier the exchange will send. */
  readonly codeChallenge: string;
}

/**
 * One provider's dialect: how to build each grant's request and how to read the answer.
 * A provider that fits a description is data (providers/catalog.ts, or the config's `providers`,
 * run by described.ts); one that does not is code exporting this, and one line in `registry.ts`.
 */
export interface ProviderDialect {
  readonly name: string;
  /** Schema of the route's `credentials` block (values already resolved from ${env:}/${file:}). */
  readonly credentials: z.ZodType<Record<string, string | undefined>>;
  /** Documented token endpoint, used when a route sets no `tokenUrl`. */
  readonly defaultTokenUrl: string | undefined;
  /** The refresh endpoint for a token URL (Covver refreshes on a separate path). */
  refreshUrl(tokenUrl: string): string;
  /** Credential fields besides clientId that yield a different token (part of the cache key). */
  readonly tokenShapingFields: readonly string[];
  /** A static `Authorization` value that needs no token call (Light API keys), if configured. */
  staticAuthorization?(credentials: CredentialValues): string | undefined;
  /** The grant that obtains a token without a refresh token; undefined if the provider has none. */
  initialGrant(credentials: CredentialValues, urls: TokenUrls): TokenHttpRequest | undefined;
  /** The refresh-token grant, if the provider has one. */
  refreshGrant?(credentials: CredentialValues, refreshToken: string, urls: TokenUrls): TokenHttpRequest;
  /** The authorization-code exchange (`token-sidecar authorize`), if the provider has one. */
  authorizationCodeGrant?(credentials: CredentialValues, code: string, urls: TokenUrls, codeVerifier?: string): TokenHttpRequest;
  /** The consent URL to open for `token-sidecar authorize` (PKCE), when the route sets an authorize URL. */
  authorizationUrl?(credentials: CredentialValues, request: AuthorizationRequest): string | undefined;
  /** A dialect bound to a route's own keys (clientAuth, tokenParams, authorizeUrl); absent: the keys are refused. */
  configure?(options: RouteOptions): ProviderDialect;
  /** Extra form fields sent with every grant: part of the cache key, never in a URL or a log. */
  readonly tokenParams?: Readonly<Record<string, string>>;
  /** When a refresh fails terminally, try the initial grant before giving up (Covver). */
  readonly fallBackToInitialGrant: boolean;
  /** Where a token answer carries the refresh token, to rescue a rotated one from a broken answer. */
  readonly refreshTokenField: string | undefined;
  /** Validates a 2xx body; throws `MalformedTokenResponse` naming the field. */
  parseToken(body: unknown): TokenSet;
  /** A short, secret-free error code from an error body (for logs), if it has one. */
  errorCode(body: unknown): string | undefined;
  /** How the token is sent upstream; absent: `Authorization: Bearer <token>`. */
  readonly sends?: TokenInjection;
}
