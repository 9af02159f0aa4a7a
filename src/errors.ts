/**
 * The one table of errors the sidecar itself answers (SPEC §4). Every failure an app can see
 * has a code here, an HTTP status, and a sentence that tells a person what to do.
 */
export const ERROR_CODES = {
  bad_request: {
    status: 400,
    message: 'The request path or line cannot be routed safely (dot segments, encoded slashes, absolute URI or CONNECT); send an origin-form path like /<route>/<path>.',
  },
  forbidden_request: {
    status: 403,
    message: 'The request does not look like it came from the app: its Host is not loopback, a browser page sent it (Origin, Sec-Fetch-Site), or the guard.requireHeader header is missing; call the sidecar from the app, or open guard deliberately.',
  },
  no_route: {
    status: 404,
    message: 'No route matches this path; call /<route>/<path> with a route named in the sidecar config.',
  },
  token_unavailable: {
    status: 503,
    message: 'No valid access token: the token endpoint is unreachable, timing out or failing; retry after the Retry-After seconds.',
  },
  token_rejected: {
    status: 502,
    message: 'The token endpoint rejected the credentials or grant; fix the route credentials (or run token-sidecar authorize) and the sidecar retries at once.',
  },
  upstream_unavailable: {
    status: 502,
    message: 'The upstream API could not be reached or reset the connection; retry, and check the route upstream URL and network.',
  },
  upstream_timeout: {
    status: 504,
    message: 'The upstream API did not answer in time; retry, or raise timeouts.upstreamHeaders if it is legitimately slow.',
  },
  tenant_required: {
    status: 400,
    message: 'This route serves several tenants and the request names none; send the route tenant header (tenants.header, by default x-token-sidecar-tenant) with the tenant id.',
  },
  unknown_tenant: {
    status: 403,
    message: 'The sidecar has no usable credentials for the tenant this request names; check the tenant id, or mount its folder under the route tenants.directory (the sidecar log says what is missing).',
  },
  internal: {
    status: 500,
    message: 'A fault inside the sidecar itself (a bug); retry, and report it with the request_failed log line.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A failure the sidecar answers itself. `detail` is for logs and must never hold a secret. */
export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly route: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, options: { route?: string; detail?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(options.detail ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidecarError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.route = options.route;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The JSON body and headers of an error answer: no secrets, only the code, route and advice. */
export function errorAnswer(error: SidecarError): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-token-sidecar-error': error.code,
    'cache-control': 'no-store',
  };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  const body = JSON.stringify({ error: error.code, route: error.route ?? null, message: ERROR_CODES[error.code].message });
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status: error.status, headers, body };
}
