import { request, type Dispatcher } from 'undici';
import { MalformedTokenResponse } from '../providers/guards.js';
import type { ProviderDialect, TokenHttpRequest, TokenSet } from '../providers/types.js';
import { parseRetryAfter } from './backoff.js';

/** Why a token request failed: `rejected` is terminal for the credential, `transient` is retried. */
export class TokenEndpointError extends Error {
  readonly kind: 'rejected' | 'transient';
  /** Short and secret-free: an OAuth error code, `http_503`, `timeout`, `connection`, `malformed`. */
  readonly reason: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: 'rejected' | 'transient', reason: string, message: string, options: { status?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.name = 'TokenEndpointError';
    this.kind = kind;
    this.reason = reason;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface TokenClientOptions {
  readonly timeoutMs: number;
  /** Token answers larger than this are broken (a 10 MB JSON is not a token). */
  readonly maxBodyBytes?: number;
  readonly now?: () => number;
}

function encode(tokenRequest: TokenHttpRequest): { contentType: string; body: string } {
  if (tokenRequest.encoding === 'json') return { contentType: 'application/json', body: JSON.stringify(tokenRequest.fields) };
  return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(tokenRequest.fields).toString() };
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
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
  readonly #now: () => number;

  constructor(options: TokenClientOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  async send(tokenRequest: TokenHttpRequest, dialect: ProviderDialect, dispatcher: Dispatcher): Promise<TokenSet> {
    const { contentType, body } = encode(tokenRequest);
    let response: Dispatcher.ResponseData;
    let text: string | undefined;
    try {
      response = await request(tokenRequest.url, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': contentType, accept: 'application/json', 'user-agent': 'token-sidecar' },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await readLimited(response.body, this.#maxBodyBytes);
    } catch (error) {
      const reason = networkReason(error);
      throw new TokenEndpointError('transient', reason, reason === 'timeout' ? `token endpoint did not answer within ${this.#timeoutMs} ms` : `token endpoint unreachable (${(error as { code?: string }).code ?? 'network error'})`);
    }
    const status = response.statusCode;
    if (text === undefined) {
      throw new TokenEndpointError('transient', 'malformed', `token endpoint answered more than ${this.#maxBodyBytes} bytes`, { status });
    }
    let json: unknown;
    try {
      json = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) {
      if (json === undefined) throw new TokenEndpointError('transient', 'malformed', `token endpoint answered ${status} without a JSON body`, { status });
      try {
        return dialect.parseToken(json);
      } catch (error) {
        if (error instanceof MalformedTokenResponse) throw new TokenEndpointError('transient', 'malformed', `token endpoint answered ${status} but ${error.message}`, { status });
        throw error;
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
