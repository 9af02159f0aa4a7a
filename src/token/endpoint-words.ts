import type { TokenHttpRequest } from '../providers/types.js';
import { replaceValues } from '../replace-values.js';

/** How much of a token endpoint's own words a log line or /readyz may carry. */
const SHOWN_CHARS = 64;
const REDACTED = '[redacted]';

/**
 * Every value the request sent that may be secret, as sent and URL-encoded: form or JSON fields
 * (client secret, refresh token, code, assertion), header values, and the two halves of HTTP
 * Basic client authentication (RFC 6749 §2.3.1: URL-encoded, then base64).
 */
export function sentValues(tokenRequest: TokenHttpRequest, fields: TokenHttpRequest['fields']): string[] {
  const values = Object.values(fields).flatMap((value) => (typeof value === 'string' ? [value] : [...value]));
  for (const value of Object.values(tokenRequest.headers ?? {})) {
    values.push(value);
    const basic = /^Basic\s+(\S+)$/i.exec(value);
    if (!basic) continue;
    for (const half of Buffer.from(basic[1] as string, 'base64').toString('utf8').split(':')) {
      values.push(half);
      try {
        values.push(decodeURIComponent(half.replace(/\+/g, ' ')));
      } catch {
        // not URL-encoded: the raw half is already listed
      }
    }
  }
  const encoded = values.map((value) => encodeURIComponent(value));
  return [...new Set([...values, ...encoded])];
}

/**
 * A token endpoint's words made fit to show: the request's own values replaced (an endpoint may
 * reflect what it was sent), anything but printable ASCII masked, at most SHOWN_CHARS, quoted.
 */
export function endpointWords(said: string, sent: readonly string[]): string {
  // Scrubbed whole, then cut (the body is already bounded): a cut first could leave half a secret.
  const text = replaceValues(said, sent.map((value) => [value, REDACTED] as const)).replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text);
}
