/** The capped exponential schedule: initial, 2×, 4×, … up to max, for attempt 0, 1, 2, … */
export function backoffCeiling(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

/** Exponential backoff with full jitter, capped (AWS architecture blog's "full jitter"). */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, initialMs, maxMs);
  // A floor keeps a zero draw from turning into an immediate retry loop.
  return Math.max(Math.min(50, ceiling), random() * ceiling);
}

/** Parses Retry-After (delta-seconds or an HTTP date) to milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
