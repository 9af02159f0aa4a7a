import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';
import { readBounded } from './read-bounded.js';

/** What reading a config may cost: a config is a few KiB and nests about six levels. */
export const CONFIG_LIMITS = {
  /** Refused before parsing (a 50 MB file used to be parsed past 1 GiB of RSS). */
  maxBytes: 1024 * 1024,
  /** YAML alias expansions: an alias bomb grows exponentially. */
  maxAliasCount: 100,
  /** Nesting of mappings and lists. */
  maxDepth: 32,
} as const;

export interface DocumentLimits {
  readonly maxBytes?: number;
}

/** After these (or at a line's start) YAML may begin a node: a flow collection or a quoted scalar. */
const NODE_START = new Set(['\n', ':', '-', '?', '[', '{', ',']);

/**
 * Whether `[`/`{` nest deeper than `levels` in the text, scanned before the YAML parser sees it:
 * deep flow nesting costs the parser memory and stack far beyond the file's size. Brackets count
 * where YAML reads them as structure (inside a flow collection, or where a node may begin);
 * quoted scalars, comments and plain text (`it's [x`) are skipped.
 */
function flowDeeperThan(text: string, levels: number): boolean {
  let depth = 0;
  let quote: string | undefined;
  let previous = '\n'; // the last indicator, line break or ('x') other text; spaces and tabs pass
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] as string;
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') index += 1;
      else if (char === quote) quote = undefined;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r') continue;
    const nodeStart = NODE_START.has(previous);
    const spaced = index === 0 || /\s/.test(text[index - 1] as string);
    if ((char === '"' || char === "'") && nodeStart) quote = char;
    else if (char === '#' && spaced) {
      const end = text.indexOf('\n', index);
      index = (end === -1 ? text.length : end) - 1;
      continue;
    } else if ((char === '[' || char === '{') && (depth > 0 || nodeStart)) {
      depth += 1;
      if (depth > levels) return true;
      previous = char;
      continue;
    } else if ((char === ']' || char === '}') && depth > 0) depth -= 1;
    // Indicators only where YAML reads them so (`: `, `- `, `? `; `,` and `:` in flow); anything else is plain text.
    const indicator = (char === ':' || char === '-' || char === '?') && (/\s/.test(text[index + 1] ?? ' ') || (depth > 0 && char === ':'));
    previous = indicator || (char === ',' && depth > 0) || char === '\n' ? char : 'x';
  }
  return false;
}

/** Whether mappings and lists nest deeper than `levels`; an alias that holds itself is endless, so it does. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  return Object.values(value).some((item) => deeperThan(item, levels - 1));
}

/**
 * Reads a YAML or JSON config within CONFIG_LIMITS; every way it can fail is a ConfigError (exit 2).
 * Messages name the file and position, never its content (which may hold inline secrets).
 */
export function readConfigDocument(file: string, limits: DocumentLimits = {}): unknown {
  const maxBytes = limits.maxBytes ?? CONFIG_LIMITS.maxBytes;
  const tooDeep = `${file}: nested deeper than ${CONFIG_LIMITS.maxDepth} levels; a config nests about 6, so check its brackets, indentation and anchors`;
  let text: string;
  try {
    text = readBounded(file, maxBytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EFBIG') throw new ConfigError([`--config: ${file} is larger than ${maxBytes} bytes; a config is a few KiB: check that --config names the right file`]);
    throw new ConfigError([`--config: cannot read ${file} (${code}); pass the path of a YAML or JSON config`]);
  }
  if (flowDeeperThan(text, CONFIG_LIMITS.maxDepth)) throw new ConfigError([tooDeep]);
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    // The first line names the problem and its position; the code frame after it, which may quote a secret, is dropped.
    throw new ConfigError(document.errors.map((error) => `${file}: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}; fix the YAML syntax`));
  }
  let parsed: unknown;
  try {
    parsed = document.toJS({ maxAliasCount: CONFIG_LIMITS.maxAliasCount });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    throw new ConfigError([`${file}: YAML aliases expand more than ${CONFIG_LIMITS.maxAliasCount} times (an alias bomb); write the values out or use fewer aliases`]);
  }
  if (deeperThan(parsed, CONFIG_LIMITS.maxDepth)) throw new ConfigError([tooDeep]);
  return parsed;
}
