import { destination, pino, stdTimeFunctions, type DestinationStream } from 'pino';

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

export function createLogger(options: { level?: LogLevel; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'token-sidecar' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    options.destination ?? destination({ dest: 1, sync: true }),
  );
}

/** A logger that drops everything (tests and library use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
