import { z } from 'zod';
import type { TokenSet } from './types.js';

/**
 * A 2xx token answer that does not hold what the contract promises. Transient: retried. `said`
 * is the endpoint's own value, raw: the token client scrubs and bounds it before it is shown.
 */
export class MalformedTokenResponse extends Error {
  declare readonly said: string | undefined;
  constructor(message: string, said?: string) {
    super(message);
    this.name = 'MalformedTokenResponse';
    Object.defineProperty(this, 'said', { value: said, enumerable: false });
  }
}

/** RFC 6750 §2.1 `b64token`: all that may follow `Bearer ` (no space, control, CR/LF/NUL or non-ASCII byte). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Default of `refresh.maxTokenSize`: a longer token would be refused as a header upstream (431). */
export const DEFAULT_MAX_TOKEN_BYTES = 16 * 1024;

function asRecord(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MalformedTokenResponse('token response must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function requireToken(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value.length === 0) throw new MalformedTokenResponse(`"${field}" must be a non-empty string`);
  return value;
}

function optionalToken(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new MalformedTokenResponse(`"${field}" must be a non-empty string when present`);
  return value;
}

/** The access token as header material: it becomes `Authorization: Bearer <token>` on every request. */
function requireHeaderToken(record: Record<string, unknown>, field: string): string {
  const value = requireToken(record, field);
  if (!B64TOKEN.test(value)) throw new MalformedTokenResponse(`"${field}" holds characters a Bearer header cannot carry (RFC 6750 b64token: letters, digits, "-._~+/", trailing "=")`);
  return value;
}

/**
 * RFC 6749 §7.1: a client must not use a token type it does not understand; absent means Bearer.
 * `types` (lower case) are the ones the dialect injects: Bearer, or a described provider's scheme.
 */
function requireKnownType(record: Record<string, unknown>, field: string, types: readonly string[]): void {
  const value = record[field];
  if (value === undefined || value === null) return;
  if (typeof value === 'string' && types.includes(value.toLowerCase())) return;
  const expected = types.map((type) => `"${type === 'bearer' ? 'Bearer' : type}"`).join(' or ');
  if (typeof value !== 'string') throw new MalformedTokenResponse(`"${field}" must be ${expected} when present, got a ${typeof value}`);
  throw new MalformedTokenResponse(`"${field}" must be ${expected} (${types.length === 1 ? 'the only type' : 'the types'} the sidecar injects), got`, value);
}

const BEARER_ONLY: readonly string[] = ['bearer'];

/** The size cap on a token that passed the dialect's guard (`refresh.maxTokenSize`). */
export function assertTokenSize(tokenSet: TokenSet, maxBytes: number): TokenSet {
  const bytes = Buffer.byteLength(tokenSet.accessToken);
  if (bytes > maxBytes) throw new MalformedTokenResponse(`the access token is ${bytes} bytes, over refresh.maxTokenSize (${maxBytes})`);
  return tokenSet;
}

function optionalLifetime(record: Record<string, unknown>, field: string): number | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  // Some servers send the number as a string; anything else non-positive is a broken answer.
  const seconds = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new MalformedTokenResponse(`"${field}" must be a positive number of seconds`);
  }
  return seconds;
}

/** Reads `{access, refresh?, expires?, type?}` under the given field names (camelCase or snake_case). */
export function readTokenSet(body: unknown, fields: { access: string; refresh: string; expires: string; type: string; types?: readonly string[] }): TokenSet {
  const record = asRecord(body);
  requireKnownType(record, fields.type, fields.types ?? BEARER_ONLY);
  return {
    accessToken: requireHeaderToken(record, fields.access),
    refreshToken: optionalToken(record, fields.refresh),
    expiresInSeconds: optionalLifetime(record, fields.expires),
  };
}

export const SNAKE_CASE = { access: 'access_token', refresh: 'refresh_token', expires: 'expires_in', type: 'token_type' } as const;
export const CAMEL_CASE = { access: 'accessToken', refresh: 'refreshToken', expires: 'expiresIn', type: 'tokenType' } as const;

/** RFC 6749 §5.2: the error codes of a token endpoint. */
export const OAUTH_ERROR_CODES: readonly string[] = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'];

/**
 * The first value among `fields` of an error body that is one of the `known` codes. Anything else
 * an endpoint says is data, not a code: it could reflect the secret just sent (the caller then
 * reports `http_<status>`).
 */
export function knownErrorCode(body: unknown, fields: readonly string[], known: readonly string[]): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'string' && known.includes(value)) return value;
  }
  return undefined;
}

const secret = z
  .string({ error: (issue) => `${issue.input === undefined ? 'is required' : 'expected a string'}: a value, \${env:NAME} or \${file:PATH}` })
  .min(1, 'must not be empty');
export const credentialField = { required: secret, optional: secret.optional() };

/** Reads a field that the schema guarantees to be present. */
export function field(credentials: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = credentials[name];
  if (value === undefined) throw new Error(`credentials.${name} is required`);
  return value;
}
