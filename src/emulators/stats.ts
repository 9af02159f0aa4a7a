import type { EmulatorStats } from './types.js';

export function createStats(): EmulatorStats {
  return { tokenRequests: 0, byGrant: {}, issuedTokens: 0, apiRequests: 0, apiUnauthorized: 0, apiAuthorized: 0, refreshReplays: 0 };
}

/** Zeroes in place, so a reference taken before the reset stays live. */
export function resetStats(stats: EmulatorStats): void {
  stats.tokenRequests = 0;
  for (const grant of Object.keys(stats.byGrant)) delete stats.byGrant[grant];
  stats.issuedTokens = 0;
  stats.apiRequests = 0;
  stats.apiUnauthorized = 0;
  stats.apiAuthorized = 0;
  stats.refreshReplays = 0;
}

export function countGrant(stats: EmulatorStats, grant: string): void {
  stats.byGrant[grant] = (stats.byGrant[grant] ?? 0) + 1;
}
