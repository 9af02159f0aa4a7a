import type { StoredGrant } from '../store.js';

/** A stored value that is not a grant (truncated, hand-edited, another program's key). */
export class CorruptGrantError extends Error {
  constructor(where: string) {
    super(`${where} does not hold a token-sidecar grant (not JSON, or fields of the wrong type)`);
    this.name = 'CorruptGrantError';
  }
}

const optional = (value: unknown, type: 'string' | 'number') => value === undefined || value === null || typeof value === type;

/** Parses a stored grant; grants written before generations existed count as generation 0. */
export function parseGrant(text: string, where: string): StoredGrant {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CorruptGrantError(where);
  }
  return toGrant(value, where);
}

/** Validates a decoded grant. */
export function toGrant(value: unknown, where: string): StoredGrant {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CorruptGrantError(where);
  const grant = value as Record<string, unknown>;
  const fieldsOk =
    optional(grant.refreshToken, 'string') && optional(grant.accessToken, 'string') && optional(grant.bootstrap, 'string') &&
    optional(grant.expiresAt, 'number') && optional(grant.obtainedAt, 'number') && optional(grant.generation, 'number') && optional(grant.updatedAt, 'number') && optional(grant.reseeded, 'string');
  if (!fieldsOk) throw new CorruptGrantError(where);
  return { ...(grant as object), generation: (grant.generation as number | undefined) ?? 0, updatedAt: (grant.updatedAt as number | undefined) ?? 0 } as StoredGrant;
}
