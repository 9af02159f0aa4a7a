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
  'authorization', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'clientSecret', 'client_secret',
  'apiKey', 'api_key', 'token', 'secret', 'password', 'code', 'credentials', 'cookie', 'set-cookie',
];
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `headers["${key}"]`]);
const CENSORED = '[redacted]';

/** Secret-named keys in any case and with any separator (`Authorization`, `client-secret`, `REFRESH_TOKEN`). */
const normalizeKey = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
const SECRET_KEY_SET = new Set([...SECRET_KEYS, 'proxy-authorization'].map(normalizeKey));

/** Credentials inside free text: an auth scheme with its value, and JWT-shaped tokens. */
const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${CENSORED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, CENSORED],
];

function censorText(text: string): string {
  return SECRET_TEXT.reduce((result, [pattern, replacement]) => result.replace(pattern, replacement), text);
}

/**
 * Censors by construction, at any depth: secret-named keys and credentials inside strings. Plain
 * objects and arrays are copied; other objects (errors) keep pino's serializers and the paths above.
 */
function censor(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return censorText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (Array.isArray(value)) {
    seen.add(value);
    return value.map((item) => censor(item, seen));
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  seen.add(value);
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = SECRET_KEY_SET.has(normalizeKey(key)) ? CENSORED : censor(item, seen);
  return copy;
}

/** The narrow interface over pino; child bindings pass the censor too (pino formats only its base bindings). */
function narrow(logger: PinoLogger): Logger {
  const at = (level: LogLevel) => (fields: Record<string, unknown>, message?: string) => {
    if (message === undefined) logger[level](fields);
    else logger[level](fields, message);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => narrow(logger.child(censor(fields) as Record<string, unknown>)),
  };
}

export function createLogger(options: { level?: LogLevel; destination?: DestinationStream } = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'token-sidecar' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => censor(fields) as Record<string, unknown>,
      },
      hooks: {
        // The message string too: pino's formatters never see it.
        logMethod(args, method) {
          const censored = args.map((arg) => (typeof arg === 'string' ? censorText(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, censored);
        },
      },
      redact: { paths: REDACT_PATHS, censor: CENSORED },
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
