import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';

/** The narrow logger every module takes: structured fields first, `event` names stable. */
export interface Logger {
  debug(fields: Record<string, unknown>, message?: string): void;
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Keys that can hold a secret. Modules never pass token or credential objects to the logger;
 * this censor is the second line, so a mistake prints "[redacted]" instead of a secret.
 */
const SECRET_KEYS = [
  'authorization', 'proxy-authorization', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'clientSecret', 'client_secret',
  'apiKey', 'api_key', 'token', 'secret', 'password', 'code', 'credentials', 'cookie', 'set-cookie',
];
const CENSORED = '[redacted]';

/** Secret-named keys in any case and with any separator (`Authorization`, `client-secret`, `REFRESH_TOKEN`). */
const normalizeKey = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
const SECRET_KEY_SET = new Set(SECRET_KEYS.map(normalizeKey));
/** The answer per key, so a line's keys cost a map lookup, not a lower-case and a regex (bounded: keys come from code). */
const secretKeyCache = new Map<string, boolean>();
function isSecretKey(key: string): boolean {
  let secret = secretKeyCache.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY_SET.has(normalizeKey(key));
    if (secretKeyCache.size < 10_000) secretKeyCache.set(key, secret);
  }
  return secret;
}

/** Credentials inside free text: an auth scheme with its value, and JWT-shaped tokens. */
const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${CENSORED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, CENSORED],
];
/** Neither pattern matches fewer characters (`Basic ` + 8, `eyJ` + 4 + `.` + 4 + `.`): names, methods, codes skip the regexes. */
const SHORTEST_SECRET_TEXT = 13;

function censorText(text: string): string {
  if (text.length < SHORTEST_SECRET_TEXT) return text;
  return SECRET_TEXT.reduce((result, [pattern, replacement]) => result.replace(pattern, replacement), text);
}

/**
 * Censors by construction, at any depth: secret-named keys and credentials inside strings. Objects
 * and arrays are copied; an error becomes its type, message and stack (censored), an object with
 * `toJSON` (a Date, a URL) what that returns, so nothing reaches the line uncensored.
 */
function censor(value: unknown, seen?: WeakSet<object>): unknown {
  if (typeof value === 'string') return censorText(value);
  if (typeof value !== 'object' || value === null) return value;
  const visited = seen ?? new WeakSet<object>();
  if (visited.has(value)) return '[circular]';
  visited.add(value);
  if (Array.isArray(value)) return value.map((item) => censor(item, visited));
  if (value instanceof Error) return censorFields({ ...value, type: value.name, message: value.message, stack: value.stack }, visited);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return censor(toJSON.call(value), visited);
  return censorFields(value as Record<string, unknown>, visited);
}

function censorFields(fields: Record<string, unknown>, seen?: WeakSet<object>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const item = fields[key];
    if (isSecretKey(key)) copy[key] = CENSORED;
    else if (typeof item === 'string') copy[key] = censorText(item);
    else if (typeof item !== 'object' || item === null) copy[key] = item;
    else {
      seen ??= new WeakSet([fields]);
      copy[key] = censor(item, seen);
    }
  }
  return copy;
}

/**
 * The narrow interface over pino, and the one place a line is censored: its fields, its message
 * (pino's formatters never see it) and a child's bindings (pino formats only its base bindings).
 * Below the threshold nothing is censored, so a debug line costs nothing when debug is off.
 */
function narrow(logger: PinoLogger): Logger {
  const at = (level: LogLevel) => (fields: Record<string, unknown>, message?: string) => {
    if (!logger.isLevelEnabled(level)) return;
    if (message === undefined) logger[level](censorFields(fields));
    else logger[level](censorFields(fields), censorText(message));
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => narrow(logger.child(censorFields(fields))),
  };
}

export function createLogger(options: { level?: LogLevel; destination?: DestinationStream } = {}): Logger {
  // No `redact` paths: the censor above already redacts by construction, at any depth; the 64
  // fast-redact paths on top made a line cost ~9x plain pino's (bench/log-cost.mjs).
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'token-sidecar' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? destination({ dest: 1, sync: true }),
  );
  return narrow(logger);
}

/** A logger that drops everything (tests and library use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
