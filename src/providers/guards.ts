import { z } from 'zod';
import type { TokenSet } from './types.js';

/** A 2xx token answer that does not hold what the contract promises. Transient: retried. */
export class MalformedTokenResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedTokenResponse';
  }
}

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

/** Reads `{access, refresh?, expires?}` under the given field names (camelCase or snake_case); `type`, if named, must be a string when present. */
export function readTokenSet(body: unknown, fields: { access: string; refresh: string; expires: string; type?: string }): TokenSet {
  const record = asRecord(body);
  if (fields.type !== undefined) optionalToken(record, fields.type);
  return {
    accessToken: requireToken(record, fields.access),
    refreshToken: optionalToken(record, fields.refresh),
    expiresInSeconds: optionalLifetime(record, fields.expires),
  };
}

export const SNAKE_CASE = { access: 'access_token', refresh: 'refresh_token', expires: 'expires_in' } as const;

/** The first string among `fields` of an error body: a code, never a description that could echo input. */
export function firstStringField(body: unknown, fields: readonly string[]): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'string' && /^[A-Za-z0-9_. -]{1,80}$/.test(value)) return value;
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
