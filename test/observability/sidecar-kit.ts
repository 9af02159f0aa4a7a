// Helpers for the observability tests that run the built sidecar: HTTP calls that never throw on a
// status, a Prometheus text-exposition parser, and a detector for the emulators' token formats.
import { randomBytes } from 'node:crypto';
import { call, routeFor, type Answer, type Json } from '../support/http.js';

export { call, routeFor, type Answer, type Json };

/** A distinctive secret value, easy to search for in output. */
export function mark(label: string): string {
  return `${label}-${randomBytes(10).toString('hex')}`;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (!match) throw new Error(`unparseable labels at ${start}: ${text}`);
    labels[match[1] as string] = (match[2] as string).replace(/\\(.)/g, (_all, escaped: string) => (escaped === 'n' ? '\n' : escaped));
  }
  return labels;
}

function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/**
 * Parses Prometheus text exposition into families keyed by the `# TYPE` name. Histogram series
 * (`_bucket`, `_sum`, `_count`) land in their family.
 */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: undefined, help: undefined, samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') family(meta[2] as string).type = meta[3];
      else family(meta[2] as string).help = meta[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`unparseable exposition line: ${line}`);
    const name = match[1] as string;
    const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    family(families.has(base) ? base : name).samples.push({ name, labels: parseLabels(match[2] ?? ''), value: sampleValue(match[3] as string) });
  }
  return families;
}

/** Sum of a family's samples named `name` whose labels include `labels`. */
export function sum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(name) ?? families.get(base);
  let total = 0;
  for (const sample of family?.samples ?? []) {
    if (sample.name !== name) continue;
    if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
  }
  return total;
}

export async function scrape(adminUrl: string): Promise<{ text: string; families: Map<string, Family> }> {
  const answer = await call(`${adminUrl}/metrics`);
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
  return { text: answer.text, families: parseExposition(answer.text) };
}

/**
 * Shapes of what the emulators hand out (src/emulators/tokens.ts, jwt.ts): access tokens are
 * JWT-shaped (`eyJ...` header.payload.signature), refresh tokens `rt-` and codes `code-`
 * followed by 24 random bytes in base64url (32 characters).
 */
export const TOKEN_SHAPES: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}/,
  /\brt-[A-Za-z0-9_-]{32}/,
  /\bcode-[A-Za-z0-9_-]{32}/,
  /Bearer\s+\S/,
];

export function looksLikeToken(text: string): boolean {
  return TOKEN_SHAPES.some((shape) => shape.test(text));
}

/** Every key and string value of a parsed JSON value, depth first. */
export function jsonStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) jsonStrings(item, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      jsonStrings(item, out);
    }
  }
  return out;
}
