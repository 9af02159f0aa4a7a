import { STATUS_CODES } from 'node:http';
import { parseJsonObject } from './body-parsers.js';
import type { Dialect, JsonAnswer, ParsedTokenRequest, TokenHttpRequest } from './dialect.js';

// Covver: JSON in, camelCase out, errors `{message, errorCode, error, statusCode}` (a Fastify-style API).
const TOKEN_PATH = '/api/ext/v1/oauth/tokens';
const REFRESH_PATH = '/api/ext/v1/oauth/refresh-token';

function error(statusCode: number, errorCode: string, message: string): JsonAnswer {
  return { status: statusCode, body: { message, errorCode, error: STATUS_CODES[statusCode] ?? 'Error', statusCode } };
}

function reject(grant: string, answer: JsonAnswer): ParsedTokenRequest {
  return { ok: false, grant, answer };
}

const JSON_REASONS = {
  content_type: error(400, 'INVALID_CONTENT_TYPE', "body must be JSON: content-type must be 'application/json'"),
  malformed: error(400, 'INVALID_BODY', 'body is not valid JSON'),
  not_object: error(400, 'VALIDATION_ERROR', 'body must be object'),
};

/** Validates a JSON body against required string fields and the one allowed grantType. */
function validate(
  request: TokenHttpRequest,
  required: readonly string[],
  grantType: string,
): { fields: Record<string, unknown> } | JsonAnswer {
  if (request.method !== 'POST') {
    return error(404, 'NOT_FOUND', `Route ${request.method}:${request.path} not found`);
  }
  const parsed = parseJsonObject(request);
  if (!parsed.ok) return JSON_REASONS[parsed.reason];
  const { fields } = parsed;
  for (const name of required) {
    if (!Object.hasOwn(fields, name)) return error(400, 'VALIDATION_ERROR', `body must have required property '${name}'`);
    if (typeof fields[name] !== 'string') return error(400, 'VALIDATION_ERROR', `body/${name} must be string`);
  }
  if (fields.grantType !== undefined && fields.grantType !== grantType) {
    return error(400, 'VALIDATION_ERROR', 'body/grantType must be equal to one of the allowed values');
  }
  return { fields };
}

function parse(request: TokenHttpRequest): ParsedTokenRequest {
  if (request.path === REFRESH_PATH) {
    const valid = validate(request, ['refreshToken'], 'refreshToken');
    if (!('fields' in valid)) return reject('invalid', valid);
    return { ok: true, request: { grant: 'refresh_token', refreshToken: valid.fields.refreshToken as string } };
  }
  const valid = validate(request, ['clientId', 'clientSecret'], 'clientCredentials');
  if (!('fields' in valid)) return reject('invalid', valid);
  const { clientId, clientSecret, companyId } = valid.fields;
  if (companyId !== undefined && typeof companyId !== 'string' && typeof companyId !== 'number') {
    return reject('invalid', error(400, 'VALIDATION_ERROR', 'body/companyId must be string'));
  }
  return {
    ok: true,
    request: {
      grant: 'client_credentials',
      clientId: clientId as string,
      clientSecret: clientSecret as string,
      ...(companyId === undefined ? {} : { companyId }),
    },
  };
}

export const covver: Dialect = {
  provider: 'covver',
  tokenPath: TOKEN_PATH,
  refreshPath: REFRESH_PATH,
  apiBase: '',
  defaultLifetimeSeconds: 600,
  // Rotation is undocumented: a new refresh token comes back each time and the old one stays valid for its 30 days.
  refreshPolicy: 'keep',
  refreshLifetimeSeconds: 30 * 24 * 3600,
  supportsAuthorizationCode: false,
  contentType: 'application/json; charset=utf-8',
  fields: { accessToken: 'accessToken', expiresIn: 'expiresIn' },
  parse,
  success: (tokens, omitExpiresIn) => ({
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    ...(omitExpiresIn ? {} : { expiresIn: tokens.expiresIn }),
  }),
  failure: (failure) =>
    failure === 'invalid_client'
      ? error(401, 'INVALID_CLIENT_CREDENTIALS', 'Invalid client credentials')
      : error(401, 'INVALID_REFRESH_TOKEN', 'Invalid or expired refresh token'),
  errorBody: (status) => {
    const reason = STATUS_CODES[status] ?? 'Error';
    return error(status, reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_'), reason).body;
  },
};
