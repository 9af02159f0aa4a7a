import { request, type Dispatcher } from 'undici';
import { assertTokenSize, DEFAULT_MAX_TOKEN_BYTES, MalformedTokenResponse } from '../providers/guards.js';
import type { ProviderDialect, TokenHttpRequest, TokenSet } from '../providers/types.js';
import { parseRetryAfter } from './backoff.js';
import { endpointWords, sentValues } from './endpoint-words.js';

/** Why a token request failed: `rejected` is terminal for the credential, `transient` is retried. */
export class TokenEndpointError extends Error {
  readonly kind: 'rejected' | 'transient';
  /** Short and secret-free: an OAuth error code, `http_503`, `timeout`, `connection`, `malformed`. */
  readonly reason: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /**
   * A refresh token found in a 2xx answer that was otherwise broken: the provider may have
   * rotated it, so it must be kept. Non-enumerable, so it never lands in a log line.
   */
  declare readonly refreshToken: string | undefined;

  constructor(kind: 'rejected' | 'transient', reason: string, message: string, options: { status?: number; retryAfterMs?: number; refreshToken?: string } = {}) {
    super(message);
    this.name = 'TokenEndpointError';
    this.kind = kind;
    this.reason = reason;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, 'refreshToken', { value: options.refreshToken, enumerable: false });
  }
}

export interface TokenClientOptions {
  readonly timeoutMs: number;
  /** Token answers larger than this are broken (a 10 MB JSON is not a token). */
  readonly maxBodyBytes?: number;
  /** An access token longer than this is a broken answer (`refresh.maxTokenSize`). */
  readonly maxTokenBytes?: number;
  readonly now?: () => number;
}

async function encode(tokenRequest: TokenHttpRequest): Promise<{ contentType: string; body: string; fields: TokenHttpRequest['fields'] }> {
  const fields = tokenRequest.signedFields ? { ...tokenRequest.fields, ...(await tokenRequest.signedFields()) } : tokenRequest.fields;
  if (tokenRequest.encoding === 'json') return { contentType: 'application/json', body: JSON.stringify(fields), fields };
  // A list repeats the field (RFC 8707: one `resource` per target).
  const pairs = Object.entries(fields).flatMap(([name, value]) => (typeof value === 'string' ? [[name, value] as const] : value.map((item) => [name, item] as const)));
  return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(pairs as Array<[string, string]>).toString(), fields };
}

/** Reads at most `limit` bytes; `truncated` when the body was longer (the rest is not read). */
async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size + buffer.length > limit) {
      chunks.push(buffer.subarray(0, limit - size));
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    size += buffer.length;
    chunks.push(buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

/**
 * The refresh token of a broken 2xx answer (null access token, bad expires_in, oversized),
 * read from the dialect's field, also in a truncated prefix. A provider that rotates has
 * already spent the old one, so dropping this would lose the grant.
 */
function salvageRefreshToken(text: string, field: string | undefined): string | undefined {
  if (field === undefined) return undefined;
  const match = new RegExp(`"${field}"\\s*:\\s*("(?:[^"\\\\]|\\\\.){1,4096}")`).exec(text);
  if (!match) return undefined;
  try {
    const value = JSON.parse(match[1] as string) as string;
    return /^\S+$/.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function networkReason(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  const name = (error as { name?: string }).name ?? '';
  if (name === 'TimeoutError' || name === 'AbortError' || code.includes('TIMEOUT')) return 'timeout';
  return 'connection';
}

/** The token transport: POSTs a dialect's request, reads the answer, classifies failures. */
export class TokenClient {
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #maxTokenBytes: number;
  readonly #now: () => number;

  constructor(options: TokenClientOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.#maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.#now = options.now ?? Date.now;
  }

  async send(tokenRequest: TokenHttpRequest, dialect: ProviderDialect, dispatcher: Dispatcher): Promise<TokenSet> {
    const { contentType, body, fields } = await encode(tokenRequest);
    let response: Dispatcher.ResponseData;
    let read: { text: string; truncated: boolean };
    try {
      response = await request(tokenRequest.url, {
        method: 'POST',
        dispatcher,
        headers: { ...tokenRequest.headers, 'content-type': contentType, accept: 'application/json', 'user-agent': 'token-sidecar' },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      read = await readLimited(response.body, this.#maxBodyBytes);
    } catch (error) {
      const reason = networkReason(error);
      throw new TokenEndpointError('transient', reason, reason === 'timeout' ? `token endpoint did not answer within ${this.#timeoutMs} ms` : `token endpoint unreachable (${(error as { code?: string }).code ?? 'network error'})`);
    }
    const status = response.statusCode;
    const { text } = read;
    const success = status >= 200 && status < 300;
    const salvaged = success ? salvageRefreshToken(text, dialect.refreshTokenField) : undefined;
    const kept = salvaged === undefined ? {} : { refreshToken: salvaged };
    if (read.truncated) {
      throw new TokenEndpointError('transient', 'malformed', `token endpoint answered more than ${this.#maxBodyBytes} bytes`, { status, ...kept });
    }
    let json: unknown;
    try {
      json = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (success) {
      if (json === undefined) throw new TokenEndpointError('transient', 'malformed', `token endpoint answered ${status} without a JSON body`, { status, ...kept });
      try {
        return assertTokenSize(dialect.parseToken(json), this.#maxTokenBytes);
      } catch (error) {
        if (!(error instanceof MalformedTokenResponse)) throw error;
        // The endpoint's own words are shown only scrubbed of what this request sent, and bounded.
        const said = error.said === undefined ? '' : ` ${endpointWords(error.said, sentValues(tokenRequest, fields))}`;
        throw new TokenEndpointError('transient', 'malformed', `token endpoint answered ${status} but ${error.message}${said}`, { status, ...kept });
      }
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#now());
    const code = dialect.errorCode(json);
    if (status === 429 || status === 408 || status >= 500) {
      throw new TokenEndpointError('transient', `http_${status}`, `token endpoint answered ${status}${code ? ` (${code})` : ''}`, { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
    // Any other 4xx: an OAuth error or a rejected request. Terminal until the config changes.
    throw new TokenEndpointError('rejected', code ?? `http_${status}`, `token endpoint rejected the request with ${status}${code ? ` (${code})` : ''}`, { status });
  }
}
