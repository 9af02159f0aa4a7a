// The logger's own guarantee (issue 4 point 3: "redacted by construction, not by luck"): whatever a
// module hands it, a secret-named field at any depth and in any spelling, and a credential or
// JWT inside any string (the message included), comes out censored; everything else is untouched.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/log.js';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvYnMtY2xpZW50IiwiZXhwIjoxfQ.c2lnbmF0dXJlLW9mLXRoZS1vYnMtdG9rZW4';
const SECRET = 'obs-s3cret-value-4b1d';

function capture(level: 'debug' | 'info' = 'info'): { logger: Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level, destination });
  const raw = () => chunks.join('');
  return { logger, raw, lines: () => raw().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger redaction', () => {
  it('censors secret-named fields at any depth, in arrays, and whatever their case or separator', () => {
    const { logger, raw, lines } = capture();
    logger.info({
      event: 'probe',
      token: SECRET,
      a: { b: { c: { d: { e: { refreshToken: SECRET } } } } },
      list: [{ nested: [{ clientSecret: SECRET }] }],
      Authorization: SECRET,
      headers: { 'Proxy-Authorization': SECRET, Cookie: SECRET },
      REFRESH_TOKEN: SECRET,
      'client-secret': SECRET,
      ApiKey: SECRET,
    });
    expect(raw()).not.toContain(SECRET);
    const [line] = lines();
    expect(line).toMatchObject({ event: 'probe', token: '[redacted]', Authorization: '[redacted]', REFRESH_TOKEN: '[redacted]', 'client-secret': '[redacted]', ApiKey: '[redacted]' });
    expect(line?.a).toEqual({ b: { c: { d: { e: { refreshToken: '[redacted]' } } } } });
    expect(line?.list).toEqual([{ nested: [{ clientSecret: '[redacted]' }] }]);
  });

  it('censors Bearer and Basic credentials and JWT-shaped tokens inside any string, the message included', () => {
    const { logger, raw, lines } = capture();
    logger.warn({ event: 'probe', detail: `upstream said: Authorization: Bearer ${SECRET}`, note: `got ${JWT} back`, deep: { why: `Basic ${Buffer.from(`user:${SECRET}`).toString('base64')}` } }, `sent Bearer ${SECRET}`);
    expect(raw()).not.toContain(SECRET);
    expect(raw()).not.toContain(JWT);
    expect(raw()).not.toContain(Buffer.from(`user:${SECRET}`).toString('base64'));
    const [line] = lines();
    expect(line?.detail).toBe('upstream said: Authorization: Bearer [redacted]');
    expect(line?.note).toBe('got [redacted] back');
    expect(line?.msg).toBe('sent Bearer [redacted]');
  });

  it('censors child-logger bindings too', () => {
    const { logger, raw, lines } = capture();
    logger.child({ clientSecret: SECRET, route: 'covver', ctx: { a: { b: { c: { clientSecret: SECRET } } } }, note: `Bearer ${SECRET}` }).info({ event: 'probe' });
    expect(raw()).not.toContain(SECRET);
    expect(lines()[0]).toMatchObject({ route: 'covver', clientSecret: '[redacted]', event: 'probe' });
  });

  it('leaves the fields the sidecar logs untouched', () => {
    const { logger, lines } = capture();
    const fields = {
      event: 'token_refresh', route: 'covver', provider: 'covver', grant: 'refresh_token', result: 'success', durationMs: 38,
      expiresAt: '2030-01-01T00:00:00.000Z', tokenValidUntil: '2030-01-01T00:00:00.000Z', rotated: true, reason: 'invalid_grant',
      detail: 'token endpoint rejected the credentials (INVALID_CLIENT_CREDENTIALS)', routes: { covver: '127.0.0.1:1' }, status: 401,
    };
    logger.info(fields, 'token-sidecar is serving');
    expect(lines()[0]).toMatchObject({ ...fields, level: 'info', service: 'token-sidecar', msg: 'token-sidecar is serving' });
  });

  it('censors errors and class instances too, with no path list behind the censor', () => {
    const { logger, raw, lines } = capture();
    class Grant {
      constructor(readonly refreshToken: string, readonly route: string) {}
    }
    const error = Object.assign(new Error(`token endpoint said Bearer ${SECRET}`), { clientSecret: SECRET });
    logger.error({ event: 'probe', failure: error, grant: new Grant(SECRET, 'covver'), when: new Date(0) });
    expect(raw()).not.toContain(SECRET);
    const [line] = lines();
    expect(line?.failure).toMatchObject({ type: 'Error', message: 'token endpoint said Bearer [redacted]', clientSecret: '[redacted]' });
    expect(line?.grant).toEqual({ refreshToken: '[redacted]', route: 'covver' });
    expect(line?.when).toBe('1970-01-01T00:00:00.000Z');
  });

  it('survives cycles and keeps the level threshold', () => {
    const { logger, lines } = capture();
    const loop: Record<string, unknown> = { event: 'probe', token: SECRET };
    loop.self = loop;
    logger.info(loop);
    logger.debug({ event: 'hidden' });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ event: 'probe', token: '[redacted]' });
  });
});
