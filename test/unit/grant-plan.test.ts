import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/providers/registry.js';
import { fingerprint, planGrants } from '../../src/token/grant-plan.js';
import type { StoredGrant } from '../../src/token/store.js';

const urls = { tokenUrl: 'https://t/token', refreshUrl: 'https://t/refresh' };
const client = { clientId: 'id', clientSecret: 'secret' };
const grants = (plan: ReturnType<typeof planGrants>) => plan.attempts.map((attempt) => attempt.grant);
const stored = (refreshToken: string, bootstrap?: string): StoredGrant => ({ refreshToken, bootstrap, generation: 1, updatedAt: 0 });

describe('planGrants', () => {
  it('client-credentials providers start with their initial grant', () => {
    expect(grants(planGrants(PROVIDERS.covver, client, undefined, urls))).toEqual(['client_credentials']);
    expect(grants(planGrants(PROVIDERS.cobee, client, stored('r1'), urls))).toEqual(['client_credentials']);
  });

  it('Covver refreshes with its stored refresh token and falls back to client credentials', () => {
    const plan = planGrants(PROVIDERS.covver, client, stored('r1'), urls);
    expect(grants(plan)).toEqual(['refresh_token', 'client_credentials']);
    expect(plan.refreshToken).toBe('r1');
  });

  it('Light and Petje have nothing to try without a refresh token', () => {
    expect(planGrants(PROVIDERS.light, client, undefined, urls).attempts).toEqual([]);
    expect(planGrants(PROVIDERS.petje, client, undefined, urls).attempts).toEqual([]);
  });

  it("the config's bootstrap refresh token starts a chain fingerprinted with it", () => {
    const plan = planGrants(PROVIDERS.light, { ...client, refreshToken: 'boot' }, undefined, urls);
    expect(grants(plan)).toEqual(['refresh_token']);
    expect(plan.refreshToken).toBe('boot');
    expect(plan.bootstrap).toBe(fingerprint('boot'));
  });

  it('the stored chain wins over the bootstrap it descends from (the bootstrap is already spent)', () => {
    const plan = planGrants(PROVIDERS.light, { ...client, refreshToken: 'boot' }, stored('r7', fingerprint('boot')), urls);
    expect(plan.refreshToken).toBe('r7');
    expect(plan.bootstrap).toBe(fingerprint('boot'));
  });

  it('a changed bootstrap in the config (a new consent) wins over the old chain', () => {
    const plan = planGrants(PROVIDERS.light, { ...client, refreshToken: 'boot-2' }, stored('r7', fingerprint('boot-1')), urls);
    expect(plan.refreshToken).toBe('boot-2');
    expect(plan.bootstrap).toBe(fingerprint('boot-2'));
  });

  it('a chain from `authorize` is used when the config has no bootstrap token', () => {
    const plan = planGrants(PROVIDERS.petje, client, stored('r3'), urls);
    expect(plan.refreshToken).toBe('r3');
    expect(plan.bootstrap).toBeUndefined();
  });

  it('fingerprints are short and do not contain the token', () => {
    expect(fingerprint('a-refresh-token')).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint('a-refresh-token')).not.toContain('refresh');
  });
});
