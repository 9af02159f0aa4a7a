import { describe, expect, it } from 'vitest';
import { MalformedTokenResponse } from '../../src/providers/guards.js';
import { PROVIDERS } from '../../src/providers/registry.js';

const urls = { tokenUrl: 'https://t.example/token', refreshUrl: 'https://t.example/refresh' };
const client = { clientId: 'id', clientSecret: 'secret' };

describe('provider dialects build the documented requests', () => {
  it('covver: JSON clientCredentials (with companyId) and JSON refreshToken on the refresh path', () => {
    expect(PROVIDERS.covver.initialGrant({ ...client, companyId: '42' }, urls)).toEqual({
      grant: 'client_credentials', url: urls.tokenUrl, encoding: 'json',
      fields: { grantType: 'clientCredentials', clientId: 'id', clientSecret: 'secret', companyId: '42' },
    });
    expect(PROVIDERS.covver.refreshGrant?.(client, 'r1', urls)).toEqual({ grant: 'refresh_token', url: urls.refreshUrl, encoding: 'json', fields: { grantType: 'refreshToken', refreshToken: 'r1' } });
    expect(PROVIDERS.covver.refreshUrl('https://api.covver.io/api/ext/v1/oauth/tokens')).toBe('https://api.covver.io/api/ext/v1/oauth/refresh-token');
  });

  it('cobee: JSON {clientId, clientSecret}, no refresh grant', () => {
    expect(PROVIDERS.cobee.initialGrant(client, urls)?.fields).toEqual({ clientId: 'id', clientSecret: 'secret' });
    expect(PROVIDERS.cobee.refreshGrant).toBeUndefined();
  });

  it.each(['petje', 'light'] as const)('%s: form refresh_token with client id and secret; no grant without a refresh token', (name) => {
    expect(PROVIDERS[name].initialGrant(client, urls)).toBeUndefined();
    expect(PROVIDERS[name].refreshGrant?.(client, 'r1', urls)).toEqual({
      grant: 'refresh_token', url: urls.refreshUrl, encoding: 'form',
      fields: { grant_type: 'refresh_token', refresh_token: 'r1', client_id: 'id', client_secret: 'secret' },
    });
  });

  it('light: the authorization-code exchange requires redirect_uri; an API key needs no token call', () => {
    expect(() => PROVIDERS.light.authorizationCodeGrant?.(client, 'c', urls)).toThrow('redirectUri');
    expect(PROVIDERS.light.authorizationCodeGrant?.({ ...client, redirectUri: 'https://app/cb' }, 'c', urls)?.fields).toEqual({
      grant_type: 'authorization_code', code: 'c', client_id: 'id', client_secret: 'secret', redirect_uri: 'https://app/cb',
    });
    expect(PROVIDERS.light.staticAuthorization?.({ apiKey: 'k123' })).toBe('Basic k123');
  });
});

describe('token answers are validated with messages that name the field', () => {
  it.each([
    ['covver', { accessToken: 'a', refreshToken: 'r', expiresIn: 600 }, { accessToken: 'a', refreshToken: 'r', expiresInSeconds: 600 }],
    ['cobee', { accessToken: 'a', tokenType: 'Bearer', expiresIn: 86400 }, { accessToken: 'a', refreshToken: undefined, expiresInSeconds: 86400 }],
    ['petje', { access_token: 'a', token_type: 'Bearer', expires_in: 3599, refresh_token: 'r', scope: 's' }, { accessToken: 'a', refreshToken: 'r', expiresInSeconds: 3599 }],
    ['light', { access_token: 'a', expires_in: '3600', token_type: 'Bearer', refresh_token: 'r' }, { accessToken: 'a', refreshToken: 'r', expiresInSeconds: 3600 }],
    ['light', { access_token: 'a' }, { accessToken: 'a', refreshToken: undefined, expiresInSeconds: undefined }],
  ] as const)('%s parses %j', (name, body, expected) => {
    expect(PROVIDERS[name].parseToken(body)).toEqual(expected);
  });

  it.each([
    ['covver', { accessToken: null, expiresIn: 600 }, '"accessToken" must be a non-empty string'],
    ['covver', { access_token: 'a' }, '"accessToken" must be a non-empty string'],
    ['petje', { accessToken: 'a' }, '"access_token" must be a non-empty string'],
    ['petje', { access_token: 'a', expires_in: -5 }, '"expires_in" must be a positive number of seconds'],
    ['light', { access_token: 'a', expires_in: 'soon' }, '"expires_in" must be a positive number of seconds'],
    ['light', { access_token: 'a', refresh_token: 7 }, '"refresh_token" must be a non-empty string when present'],
    ['cobee', ['a'], 'token response must be a JSON object'],
    ['cobee', 'text', 'token response must be a JSON object'],
  ] as const)('%s rejects %j', (name, body, message) => {
    expect(() => PROVIDERS[name].parseToken(body)).toThrow(MalformedTokenResponse);
    expect(() => PROVIDERS[name].parseToken(body)).toThrow(message);
  });

  it.each([
    ['covver', { message: 'bad', errorCode: 'INVALID_CLIENT_CREDENTIALS', error: 'Unauthorized', statusCode: 401 }, 'INVALID_CLIENT_CREDENTIALS'],
    ['cobee', { code: 'validation_error', message: "body: must have required property 'clientId'" }, 'validation_error'],
    ['petje', { status: 400, title: 'Bad Request', detail: 'Invalid grant' }, undefined],
    ['light', { error: 'not_a_known_code' }, undefined],
    ['petje', { error: 'invalid_grant', error_description: 'x' }, 'invalid_grant'],
    ['light', { error: 'invalid_client' }, 'invalid_client'],
    ['light', '<html>', undefined],
  ] as const)('%s reads only a known error code from %j', (name, body, code) => {
    expect(PROVIDERS[name].errorCode(body)).toBe(code);
  });
});
