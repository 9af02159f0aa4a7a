import type { TokenInjection } from '../providers/types.js';

/** An access token as the request path uses it: the header value is built once, here. */
export interface Token {
  /** Sequence number, so a 401 invalidates only the token it was answered to. */
  readonly id: number;
  readonly value: string;
  /** `Bearer <value>` (or the provider's own scheme): built once per token, not per request. */
  readonly header: string;
  /** When the token request that produced it started (its lifetime counts from then). */
  readonly obtainedAt: number;
  readonly expiresAt: number;
  /** What the proxy injects, built once per token so a cache hit allocates nothing. */
  readonly authorization: { readonly header: string; readonly tokenId: number; readonly name?: string };
}

let nextTokenId = 1;

/** `sends`: the provider's header and scheme (a described provider's `send`); default `Authorization: Bearer`. */
export function makeToken(value: string, obtainedAt: number, expiresAt: number, sends?: TokenInjection): Token {
  const id = nextTokenId++;
  const scheme = sends?.scheme ?? 'Bearer';
  const header = scheme === '' ? value : `${scheme} ${value}`;
  const name = sends?.header ?? 'authorization';
  return { id, value, header, obtainedAt, expiresAt, authorization: { header, tokenId: id, ...(name === 'authorization' ? {} : { name }) } };
}

/** A token is injected only while comfortably before its expiry (5% of its life, at most 1 s). */
export function injectable(token: Token, now: number): boolean {
  const margin = Math.min(1000, (token.expiresAt - token.obtainedAt) * 0.05);
  return now < token.expiresAt - margin;
}
