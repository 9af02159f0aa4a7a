import type { GrantFailure, GrantRequest } from './grants.js';
import type { IssuedTokens, RefreshPolicy } from './tokens.js';
import type { EmulatorClient } from './types.js';

/** A token request as it arrived, body already read. */
export interface TokenHttpRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: Buffer;
  overflow: boolean;
}

export interface JsonAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A parsed request ready to run, or the answer that rejects it; `grant` labels stats.byGrant. */
export type ParsedTokenRequest = { ok: true; request: GrantRequest } | { ok: false; grant: string; answer: JsonAnswer };

/**
 * One provider's wire format: where its endpoints live, how requests are encoded, and the exact
 * shapes of its answers. State and grant logic are shared (grants.ts, tokens.ts).
 */
export interface Dialect {
  /** A built-in provider's name, or a described one's. */
  provider: string;
  tokenPath: string;
  refreshPath: string;
  /** Path prefix of the protected API on the origin ('' = every other path). */
  apiBase: string;
  defaultLifetimeSeconds: number;
  refreshPolicy: RefreshPolicy;
  refreshLifetimeSeconds?: number;
  supportsAuthorizationCode: boolean;
  /** Content type of every JSON answer from the token endpoint. */
  contentType: string;
  /** Field names in the success body, for faults that spoil them. */
  fields: { accessToken: string; expiresIn: string };
  /** The client accepted unless `clients` says otherwise; default DEMO_CLIENTS[provider]. */
  demoClient?: EmulatorClient;
  /** Where the API reads the token (lower-case header) and its scheme ('' = bare); default `Authorization: Bearer`. */
  apiCredential?: { header: string; scheme: string };
  parse(request: TokenHttpRequest): ParsedTokenRequest;
  success(tokens: IssuedTokens, omitExpiresIn: boolean): Record<string, unknown>;
  failure(failure: GrantFailure): JsonAnswer;
  /** The body this provider would send with an arbitrary error status (used by the `status` fault). */
  errorBody(status: number): unknown;
}
