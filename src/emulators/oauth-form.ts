import { parseForm } from './body-parsers.js';
import type { JsonAnswer, ParsedTokenRequest, TokenHttpRequest } from './dialect.js';
import type { GrantRequest } from './grants.js';

// The RFC 6749 form dialect Petje.af and Light share: which parameters each grant needs,
// and the RFC `{error, error_description}` answers to requests that do not parse.

export interface OAuthFormOptions {
  /** Parameters the authorization_code grant needs besides grant_type, in the order checked. */
  codeParameters: readonly string[];
}

const REFRESH_PARAMETERS = ['refresh_token', 'client_id', 'client_secret'] as const;

export function oauthError(status: number, error: string, description: string): JsonAnswer {
  return { status, body: { error, error_description: description } };
}

export function parseOAuthForm(request: TokenHttpRequest, options: OAuthFormOptions): ParsedTokenRequest {
  const reject = (status: number, error: string, description: string): ParsedTokenRequest => ({
    ok: false,
    grant: 'invalid',
    answer: oauthError(status, error, description),
  });
  if (request.method !== 'POST') return reject(405, 'invalid_request', `The token endpoint does not accept ${request.method}`);
  const form = parseForm(request);
  if (!form.ok) {
    if (form.reason === 'duplicate') return reject(400, 'invalid_request', `Parameter ${form.field ?? ''} is repeated`);
    return reject(400, 'invalid_request', 'The request body must be application/x-www-form-urlencoded');
  }
  const { fields } = form;
  const grantType = fields.get('grant_type');
  if (grantType === undefined) return reject(400, 'invalid_request', 'Missing required parameter: grant_type');
  let required: readonly string[];
  if (grantType === 'authorization_code') required = options.codeParameters;
  else if (grantType === 'refresh_token') required = REFRESH_PARAMETERS;
  else return reject(400, 'unsupported_grant_type', `Grant type ${grantType} is not supported`);
  for (const name of required) {
    if (!fields.get(name)) return reject(400, 'invalid_request', `Missing required parameter: ${name}`);
  }
  const get = (name: string): string => fields.get(name) ?? '';
  const grant: GrantRequest =
    grantType === 'authorization_code'
      ? { grant: 'authorization_code', code: get('code'), clientId: get('client_id'), clientSecret: get('client_secret') }
      : { grant: 'refresh_token', refreshToken: get('refresh_token'), clientId: get('client_id'), clientSecret: get('client_secret') };
  return { ok: true, request: grant };
}
