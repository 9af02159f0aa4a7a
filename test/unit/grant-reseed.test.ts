// Replicas sharing a store that restarts empty (Redis without persistence), in process and on one
// fake clock, so each interleaving that replayed a refresh token on real Redis is played exactly.
// Light's emulator revokes the whole family on any replay and counts replays.
import { afterEach, describe, expect, it } from 'vitest';
import { authorizationOf, settled, setupFleet, type ProviderSetup } from '../support/provider-kit.js';
import { SharedStore } from '../support/shared-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two replicas of one app on one Light grant (100 s tokens; refresh-ahead at 75 s, the kit's lock TTL 5 s). */
async function twoReplicas() {
  const shared = new SharedStore();
  const views = [shared.view(), shared.view()] as const;
  const fleet = await setupFleet('light', cleanups, views);
  const [a, b] = fleet.replicas as [ProviderSetup, ProviderSetup];
  // Started as the app starts them: listening to the store's change and reconnect messages.
  for (const replica of fleet.replicas) replica.provider.start({ eager: false });
  const first = await authorizationOf(a.provider, 'light');
  // B starts from what A stored: one token request for the fleet.
  expect((await authorizationOf(b.provider, 'light')).header).toBe(first.header);
  expect(fleet.emulator.stats.tokenRequests).toBe(1);
  return { shared, views, fleet, a, b, first };
}

type Replicas = Awaited<ReturnType<typeof twoReplicas>>;

const heldBack = (replica: ProviderSetup) => replica.events.filter((line) => line.event === 'token_refresh_failed' && line.reason === 'store_reseeded');

/** Moves the shared clock and waits until neither replica is refreshing. */
async function advanceBoth({ fleet, a, b }: Replicas, ms: number): Promise<void> {
  fleet.clock.advance(ms);
  await settled(a.provider);
  await settled(b.provider);
}

/**
 * The store restarts empty and B reconnects first, writing back its chain; then B's refresh-ahead
 * (at 75 s) comes due with the lock free: B must hold the re-seeded refresh token back.
 */
async function restartWithBFirst({ shared, views, fleet, b }: Replicas): Promise<void> {
  shared.wipe();
  views[1].deaf = false;
  views[1].reconnect();
  await expect.poll(() => b.events.some((line) => line.event === 'store_reseeded')).toBe(true);
  fleet.clock.advance(2_000);
  await settled(b.provider);
  expect(fleet.emulator.stats.refreshReplays).toBe(0);
  expect(heldBack(b)).toHaveLength(1);
}

/** Three more refresh periods: the chain goes on unreplayed, both replicas on one token. */
async function threeMoreRotations(replicas: Replicas): Promise<void> {
  const { fleet, a, b } = replicas;
  for (let round = 0; round < 3; round += 1) {
    await advanceBoth(replicas, 80_000);
  }
  expect(fleet.emulator.stats.refreshReplays).toBe(0);
  expect((await authorizationOf(a.provider, 'light')).header).toBe((await authorizationOf(b.provider, 'light')).header);
}

/**
 * A restart that passes without harm: both replicas write back, the hold runs out, nothing is
 * due. The chain's generation stays the same, marked re-seeded. Returns the time it took.
 */
/** The store restarts empty and both replicas reconnect: one writes back the chain, the other finds it there. */
async function restartBoth({ shared, views, a, b }: Replicas): Promise<void> {
  shared.wipe();
  for (const view of views) view.reconnect();
  await expect.poll(() => [a, b].some((replica) => replica.events.some((line) => line.event === 'store_reseeded'))).toBe(true);
}

async function harmlessRestart(replicas: Replicas): Promise<number> {
  const { fleet, a, b } = replicas;
  fleet.clock.advance(10_000);
  await restartBoth(replicas);
  await advanceBoth(replicas, 6_000);
  expect(fleet.emulator.stats.tokenRequests).toBe(1);
  for (const replica of [a, b]) replica.events.splice(0);
  return 16_000;
}

describe('a store that restarts empty under several replicas', () => {
  it.each([
    ['', false],
    [' (a second restart of the same generation is held again)', true],
  ])('a refresh in flight when the store restarts: the other replica, re-seeding the old chain, does not spend its refresh token before the refresh lands%s', async (_name, twice) => {
    const replicas = await twoReplicas();
    const { shared, fleet, a, b, first } = replicas;
    const elapsed = twice ? await harmlessRestart(replicas) : 0;
    fleet.clock.advance(74_000 - elapsed);
    // A spends the refresh token (an upstream 401); its write of the rotated one is in flight.
    let land: () => void = () => undefined;
    shared.holdNextWrite = new Promise<void>((resolve) => (land = resolve));
    expect(a.provider.unauthorized('light', first.tokenId)).toBe(true);
    void Promise.resolve(a.provider.authorization('light')).catch(() => undefined);
    await expect.poll(() => shared.holdNextWrite === undefined).toBe(true);
    expect(fleet.emulator.stats.tokenRequests).toBe(2);
    // The store restarts empty (A's lock goes with it); B re-seeds the old chain and holds it back.
    await restartWithBFirst(replicas);
    // Held back, B keeps serving its valid token.
    expect((await authorizationOf(b.provider, 'light')).header).toBe(first.header);
    // A's write lands (a newer generation than the re-seeded one): B goes on from it.
    land();
    await settled(a.provider);
    const rotated = await authorizationOf(a.provider, 'light');
    expect(rotated.header).not.toBe(first.header);
    await expect.poll(async () => (await authorizationOf(b.provider, 'light')).header).toBe(rotated.header);
    await threeMoreRotations(replicas);
  });

  it('a replica that missed the last rotation re-seeds first: it waits for the replica holding the newer chain to write it back', async () => {
    const replicas = await twoReplicas();
    const { views, fleet, a, b, first } = replicas;
    fleet.clock.advance(10_000);
    // A rotates alone (an upstream 401); B misses the change message, so B's chain stays one behind.
    views[1].deaf = true;
    expect(a.provider.unauthorized('light', first.tokenId)).toBe(true);
    const rotated = await authorizationOf(a.provider, 'light');
    expect(fleet.emulator.stats.tokenRequests).toBe(2);
    fleet.clock.advance(64_000);
    // The store restarts empty; B reconnects first, re-seeds its older (spent) chain, holds it back.
    await restartWithBFirst(replicas);
    // A reconnects and writes back the newer chain; B takes it, and the chain goes on from it.
    fleet.clock.advance(1_000);
    views[0].reconnect();
    await expect.poll(async () => (await authorizationOf(b.provider, 'light')).header).toBe(rotated.header);
    await threeMoreRotations(replicas);
    expect(fleet.emulator.stats.byGrant.refresh_token).toBeGreaterThanOrEqual(4);
  });

  it('nobody was refreshing: after the hold the re-seeded chain is spent once, and requests are served all along', async () => {
    const replicas = await twoReplicas();
    const { fleet, a, b, first } = replicas;
    fleet.clock.advance(74_000);
    await restartBoth(replicas);
    await advanceBoth(replicas, 2_000);
    // Within the hold (the lock TTL, 5 s here) nothing is spent, the valid token still served.
    expect(fleet.emulator.stats.tokenRequests).toBe(1);
    expect((await authorizationOf(a.provider, 'light')).header).toBe(first.header);
    await advanceBoth(replicas, 5_000);
    expect(fleet.emulator.stats.tokenRequests).toBe(2);
    expect(fleet.emulator.stats.refreshReplays).toBe(0);
    const rotated = await authorizationOf(a.provider, 'light');
    expect(rotated.header).not.toBe(first.header);
    await expect.poll(async () => (await authorizationOf(b.provider, 'light')).header).toBe(rotated.header);
  });
});
