import { STATUS_CODES } from 'node:http';
import { parseJsonObject } from './body-parsers.js';
import type { Dialect, JsonAnswer, ParsedTokenRequest, TokenHttpRequest } from './dialect.js';

// Cobee Partners API: base path /api/v3, JSON in, camelCase out, no refresh token.
// 400 `{code:"validation_error", message:"body: ..."}` (AJV wording), 401 `{message:"Unauthorized"}`.
const BASE = '/api/v3';
const TOKEN_PATH = `${BASE}/oauth/token`;

function validationError(message: string): JsonAnswer {
  return { status: 400, body: { code: 'validation_error', message: `body${message}` } };
}

function parse(request: TokenHttpRequest): ParsedTokenRequest {
  if (request.method !== 'POST') return { ok: false, grant: 'invalid', answer: { status: 404, body: { message: 'Not Found' } } };
  const parsed = parseJsonObject(request);
  let fields: Record<string, unknown> = {};
  if (parsed.ok) fields = parsed.fields;
  // Any body that is not a JSON object (wrong content type included) validates as empty...
  else if (parsed.reason !== 'content_type') return { ok: false, grant: 'invalid', answer: validationError(': must be object') };
  // ...so it fails on the first required property, as the real API answers a form post.
  for (const name of ['clientId', 'clientSecret']) {
    if (!Object.hasOwn(fields, name)) {
      return { ok: false, grant: 'invalid', answer: validationError(`: must have required property '${name}'`) };
    }
    if (typeof fields[name] !== 'string') return { ok: false, grant: 'invalid', answer: validationError(`/${name}: must be string`) };
  }
  const clientId = fields.clientId as string;
  const clientSecret = fields.clientSecret as string;
  return { ok: true, request: { grant: 'client_credentials', clientId, clientSecret } };
}

export const cobee: Dialect = {
  provider: 'cobee',
  tokenPath: TOKEN_PATH,
  refreshPath: TOKEN_PATH,
  apiBase: BASE,
  defaultLifetimeSeconds: 86400,
  refreshPolicy: 'none',
  supportsAuthorizationCode: false,
  contentType: 'application/json; charset=utf-8',
  fields: { accessToken: 'accessToken', expiresIn: 'expiresIn' },
  parse,
  success: (tokens, omitExpiresIn) => ({
    accessToken: tokens.accessToken,
    tokenType: 'Bearer',
    ...(omitExpiresIn ? {} : { expiresIn: tokens.expiresIn }),
  }),
  // Cobee has no refresh or code grant: every failure is bad credentials.
  failure: () => ({ status: 401, body: { message: 'Unauthorized' } }),
  errorBody: (status) =>
    status === 429
      ? { error: 'too_many_requests', error_description: 'Rate limit exceeded' }
      : { message: STATUS_CODES[status] ?? 'Error' },
};
