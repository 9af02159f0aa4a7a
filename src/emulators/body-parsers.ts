import type { TokenHttpRequest } from './dialect.js';
import { mediaType } from './http.js';

export type JsonBodyResult =
  | { ok: true; fields: Record<string, unknown> }
  | { ok: false; reason: 'content_type' | 'malformed' | 'not_object' };

/** A JSON object body under `application/json`, nothing else. */
export function parseJsonObject(request: TokenHttpRequest): JsonBodyResult {
  if (mediaType(request.contentType) !== 'application/json') return { ok: false, reason: 'content_type' };
  if (request.overflow) return { ok: false, reason: 'malformed' };
  let value: unknown;
  try {
    value = JSON.parse(request.body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_object' };
  return { ok: true, fields: value as Record<string, unknown> };
}

export type FormBodyResult =
  | { ok: true; fields: Map<string, string> }
  | { ok: false; reason: 'content_type' | 'malformed' | 'duplicate'; field?: string };

/** An `application/x-www-form-urlencoded` body; a repeated parameter is an error (RFC 6749 §3.2). */
export function parseForm(request: TokenHttpRequest): FormBodyResult {
  if (mediaType(request.contentType) !== 'application/x-www-form-urlencoded') return { ok: false, reason: 'content_type' };
  if (request.overflow) return { ok: false, reason: 'malformed' };
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(request.body.toString('utf8'))) {
    if (fields.has(name)) return { ok: false, reason: 'duplicate', field: name };
    fields.set(name, value);
  }
  return { ok: true, fields };
}
