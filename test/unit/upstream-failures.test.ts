import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { classifyUpstreamFailure, UNDICI_FAILURES, upstreamError, type UpstreamFailure } from '../../src/proxy/upstream-failures.js';

/** undici errors a plain Pool cannot raise: they belong to interceptors, agents and clients the sidecar does not use. */
const NOT_REACHABLE = new Set([
  'ERR_WEBASSEMBLY_NOT_SUPPORTED', // llhttp's wasm build; Node ships the native one
  'UND_ERR_BPL_MISSING_UPSTREAM', // BalancedPool
  'UND_ERR_RES_EXCEEDED_MAX_SIZE', // dump/maxResponseSize interceptors
  'UND_ERR_REQ_RETRY', // retry interceptor
  'UND_ERR_RESPONSE', // responseError interceptor
  'UND_ERR_PRX_TLS', // ProxyAgent
  'UND_ERR_PRX_CONN',
  'UND_ERR_SOCKS5',
  'UND_ERR_REDIRECT_MAX', // redirect interceptor
  'UND_ERR_MAX_ORIGINS_REACHED', // Agent maxOrigins
  'UND_ERR_WS_MESSAGE_SIZE_EXCEEDED', // undici's own WebSocket client
]);

function undiciCodes(): string[] {
  const codes = new Set<string>();
  for (const ErrorClass of Object.values(errors) as Array<new (...args: unknown[]) => { code?: string }>) {
    try {
      const code = (ErrorClass.length > 1 ? new ErrorClass('x', 500, { headers: {}, data: {} }) : new ErrorClass('x')).code;
      if (typeof code === 'string') codes.add(code);
    } catch {
      // constructors that need real arguments are covered by name in NOT_REACHABLE
    }
  }
  return [...codes];
}

describe('the upstream-failure table', () => {
  it('names every undici error code a route pool can raise, and only those', () => {
    // HTTPParserError carries llhttp's HPE_* code: matched by pattern (rows below), not listed.
    const reachable = undiciCodes().filter((code) => !NOT_REACHABLE.has(code) && !code.startsWith('HPE_'));
    expect(new Set(Object.keys(UNDICI_FAILURES))).toEqual(new Set(reachable));
  });

  const rows: Array<[string, UpstreamFailure, number | 499]> = [
    ['UND_ERR_CONNECT_TIMEOUT', 'upstream_unavailable', 502],
    ['UND_ERR_HEADERS_TIMEOUT', 'upstream_timeout', 504],
    ['UND_ERR_BODY_TIMEOUT', 'upstream_timeout', 504],
    ['UND_ERR_HEADERS_OVERFLOW', 'upstream_unavailable', 502],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'upstream_unavailable', 502],
    ['UND_ERR_SOCKET', 'upstream_unavailable', 502],
    ['UND_ERR_INFO', 'upstream_unavailable', 502],
    ['UND_ERR_CLOSED', 'upstream_unavailable', 502],
    ['UND_ERR_DESTROYED', 'upstream_unavailable', 502],
    ['UND_ERR_ABORTED', 'app_left', 499],
    ['UND_ERR_ABORT', 'app_left', 499],
    ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'app_left', 499],
    ['UND_ERR_INVALID_ARG', 'internal', 500],
    ['UND_ERR_INVALID_RETURN_VALUE', 'internal', 500],
    ['UND_ERR_NOT_SUPPORTED', 'internal', 500],
    ['UND_ERR', 'internal', 500],
    // Node's system, parser and TLS errors on the upstream connection
    ['ECONNREFUSED', 'upstream_unavailable', 502],
    ['ECONNRESET', 'upstream_unavailable', 502],
    ['ENOTFOUND', 'upstream_unavailable', 502],
    ['EAI_AGAIN', 'upstream_unavailable', 502],
    ['EHOSTUNREACH', 'upstream_unavailable', 502],
    ['EPIPE', 'upstream_unavailable', 502],
    ['HPE_INVALID_CONSTANT', 'upstream_unavailable', 502],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'upstream_unavailable', 502],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'upstream_unavailable', 502],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'upstream_unavailable', 502],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'upstream_unavailable', 502],
    ['CERT_HAS_EXPIRED', 'upstream_unavailable', 502],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'upstream_unavailable', 502],
  ];

  it.each(rows)('%s → %s (the app gets %s)', (code, failure, status) => {
    const error = Object.assign(new Error('boom'), { code });
    expect(classifyUpstreamFailure(error)).toBe(failure);
    if (failure !== 'app_left') expect(ERROR_CODES[failure].status).toBe(status);
  });

  it('covers every entry of the table', () => {
    const tested = new Set(rows.map(([code]) => code));
    for (const code of Object.keys(UNDICI_FAILURES)) expect(tested, code).toContain(code);
  });

  it.each([
    ['a TypeError (a bug)', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a thrown string', 'oops'],
    ['null', null],
    ['an unknown code', Object.assign(new Error('x'), { code: 'ERR_SOMETHING_NEW' })],
  ])('%s is internal (500), never blamed on the upstream', (_name, error) => {
    expect(classifyUpstreamFailure(error)).toBe('internal');
    expect(upstreamError('internal', error, 'covver').status).toBe(500);
  });

  it('names the code in the log detail, not the error message (which may hold upstream words)', () => {
    const error = upstreamError('upstream_unavailable', Object.assign(new Error('secret-ish words'), { code: 'ECONNRESET' }), 'covver');
    expect(error.message).toBe('upstream request failed (ECONNRESET)');
    expect(error.route).toBe('covver');
  });
});
