import { describe, expect, it } from 'vitest';
import { providerDescriptionSchema } from '../../src/config/provider-description.js';
import { describedDialect } from '../../src/providers/described.js';
import { MalformedTokenResponse } from '../../src/providers/guards.js';
import { makeToken } from '../../src/token/token.js';

const acme = describedDialect(
  'acme',
  providerDescriptionSchema.parse({
    tokenUrl: 'https://auth.acme.example/v2/auth/login',
    encoding: 'json',
    grant: { fields: { grant: 'client', id: '{clientId}', key: '{clientSecret}', account: '{accountId?}' } },
    refresh: { url: '../session/renew', fields: { grant: 'renew', renewal: '{refreshToken}', id: '{clientId}' } },
    authorizationCode: { fields: { grant: 'code', code: '{code}', id: '{clientId}', back: '{redirectUri}' } },
    response: { accessToken: 'sessionToken', expiresIn: 'validFor', refreshToken: 'renewalToken', tokenType: 'kind' },
    errorFields: ['reason', 'code'],
    send: { header: 'X-Acme-Session', scheme: 'Session' },
  }),
);
const urls = { tokenUrl: 'https://auth.acme.example/v2/auth/login', refreshUrl: 'https://auth.acme.example/v2/session/renew' };

describe('a described dialect', () => {
  it('builds each grant from its templates: literals, credentials, optional fields left out', () => {
    expect(acme.initialGrant({ clientId: 'id', clientSecret: 's' }, urls)).toEqual({ grant: 'client_credentials', url: urls.tokenUrl, encoding: 'json', fields: { grant: 'client', id: 'id', key: 's' } });
    expect(acme.initialGrant({ clientId: 'id', clientSecret: 's', accountId: '42' }, urls)?.fields).toEqual({ grant: 'client', id: 'id', key: 's', account: '42' });
    // The refresh grant carries the current refresh token, not the bootstrap one.
    expect(acme.refreshGrant?.({ clientId: 'id', clientSecret: 's', refreshToken: 'bootstrap' }, 'current', urls)).toEqual({ grant: 'refresh_token', url: urls.refreshUrl, encoding: 'json', fields: { grant: 'renew', renewal: 'current', id: 'id' } });
    expect(() => acme.authorizationCodeGrant?.({ clientId: 'id', clientSecret: 's' }, 'c', urls)).toThrow('credentials.redirectUri is required');
    expect(acme.authorizationCodeGrant?.({ clientId: 'id', redirectUri: 'https://app/cb' }, 'c', urls)?.fields).toEqual({ grant: 'code', code: 'c', id: 'id', back: 'https://app/cb' });
  });

  it('derives the credentials it accepts, the refresh URL and the cache-key fields', () => {
    expect(acme.credentials.safeParse({ clientId: 'a', clientSecret: 'b' }).success).toBe(true);
    expect(acme.credentials.safeParse({ clientId: 'a', clientSecret: 'b', accountId: '1', refreshToken: 'r', redirectUri: 'u' }).success).toBe(true);
    expect(acme.credentials.safeParse({ clientId: 'a' }).error?.issues[0]?.path).toEqual(['clientSecret']);
    expect(acme.credentials.safeParse({ clientId: 'a', clientSecret: 'b', companyId: 'x' }).success).toBe(false);
    expect(acme.refreshUrl('http://127.0.0.1:9/v2/auth/login')).toBe('http://127.0.0.1:9/v2/session/renew');
    expect(acme.tokenShapingFields).toEqual(['accountId']);
    expect(acme.fallBackToInitialGrant).toBe(false);
  });

  it('reads the answer under the described names, the token type checked when present', () => {
    expect(acme.parseToken({ sessionToken: 't', validFor: 60, renewalToken: 'r', kind: 'Session' })).toEqual({ accessToken: 't', refreshToken: 'r', expiresInSeconds: 60 });
    expect(() => acme.parseToken({ access_token: 't' })).toThrow('"sessionToken" must be a non-empty string');
    expect(() => acme.parseToken({ sessionToken: 't', kind: 7 })).toThrow(MalformedTokenResponse);
    expect(acme.refreshTokenField).toBe('renewalToken');
    expect(acme.errorCode({ code: 'x', reason: 'bad_client' })).toBe('bad_client');
    expect(acme.errorCode({ code: 'locked' })).toBe('locked');
  });

  it('builds the described header once per token; the default stays Authorization: Bearer', () => {
    expect(makeToken('t', 0, 1, acme.sends).authorization).toEqual({ header: 'Session t', tokenId: expect.any(Number), name: 'x-acme-session' });
    expect(makeToken('t', 0, 1, { header: 'x-api-key', scheme: '' }).authorization.header).toBe('t');
    expect(makeToken('t', 0, 1).authorization).toEqual({ header: 'Bearer t', tokenId: expect.any(Number) });
  });
});
