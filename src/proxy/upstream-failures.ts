import { SidecarError, type ErrorCode } from '../errors.js';

/** What a failed upstream exchange means for the app: a SPEC §4 answer, or `app_left` (no answer; counted 499). */
export type UpstreamFailure = ErrorCode | 'app_left';

/**
 * The one table from the undici errors a route's Pool can raise (no proxy, retry, redirect or
 * WebSocket interceptors are used) to what the app gets. Checked by test/unit/upstream-failures.test.ts.
 */
export const UNDICI_FAILURES: Readonly<Record<string, UpstreamFailure>> = {
  UND_ERR_CONNECT_TIMEOUT: 'upstream_unavailable', // TCP or TLS not up within timeouts.connect: unreachable, not slow
  UND_ERR_HEADERS_TIMEOUT: 'upstream_timeout', // connected, no answer within timeouts.upstreamHeaders
  UND_ERR_BODY_TIMEOUT: 'upstream_timeout', // body stalled past timeouts.idle (before headers went out: a held 401/429 body)
  UND_ERR_HEADERS_OVERFLOW: 'upstream_unavailable', // the upstream's headers overflow the parser
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'upstream_unavailable', // the upstream's body disagrees with its Content-Length
  UND_ERR_SOCKET: 'upstream_unavailable', // the upstream closed or reset the connection
  UND_ERR_INFO: 'upstream_unavailable', // the upstream closed a kept-alive connection as the request went out
  UND_ERR_CLOSED: 'upstream_unavailable', // the pool is closing (shutdown)
  UND_ERR_DESTROYED: 'upstream_unavailable', // the pool was destroyed (shutdown past its grace)
  UND_ERR_ABORTED: 'app_left', // the app left: the signal aborted the request
  UND_ERR_ABORT: 'app_left',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'app_left', // the app's upload ended before its Content-Length: it left mid-body
  UND_ERR_INVALID_ARG: 'internal', // the sidecar built a request undici refuses: a bug
  UND_ERR_INVALID_RETURN_VALUE: 'internal',
  UND_ERR_NOT_SUPPORTED: 'internal',
  UND_ERR: 'internal',
};

/** Node system and TLS errors on the upstream connection (DNS, refused, reset, certificate): the upstream is unreachable. */
const CONNECTION_CODE = /^(E[A-Z]+|EAI_[A-Z]+|HPE_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;

/** Classifies any failure of an upstream exchange; anything without a known code is a sidecar bug. */
export function classifyUpstreamFailure(error: unknown): UpstreamFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'internal';
  return UNDICI_FAILURES[code] ?? (CONNECTION_CODE.test(code) ? 'upstream_unavailable' : 'internal');
}

const DETAIL: Partial<Record<ErrorCode, string>> = {
  upstream_timeout: 'upstream did not answer in time',
  upstream_unavailable: 'upstream request failed',
  internal: 'fault inside the sidecar',
};

/** The SidecarError for a failure that is not `app_left`; the detail names the code for the log. */
export function upstreamError(failure: ErrorCode, error: unknown, route: string): SidecarError {
  const code = (error as { code?: unknown } | null)?.code;
  const detail = `${DETAIL[failure] ?? failure} (${typeof code === 'string' ? code : (error as Error | null)?.name ?? 'unknown'})`;
  return new SidecarError(failure, { route, detail, cause: error });
}
