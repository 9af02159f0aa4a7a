import { CATALOG } from './catalog.js';
import { describedDialect } from './described.js';
import { light } from './light.js';
import { oauth2 } from './oauth2.js';
import type { ProviderDialect } from './types.js';

/**
 * The built-in providers a route may name. Those that fit a description come from the catalog
 * (catalog.ts); the others are code behind the same interface. The config's own `providers`
 * join them per config (config/load.ts).
 */
export const PROVIDERS = {
  covver: describedDialect('covver', CATALOG.covver),
  cobee: describedDialect('cobee', CATALOG.cobee),
  petje: describedDialect('petje', CATALOG.petje),
  light,
  oauth2,
} as const satisfies Record<string, ProviderDialect>;

export type ProviderName = keyof typeof PROVIDERS;
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

/** The built-in dialect of that name, if there is one (never an Object.prototype member). */
export function builtInProvider(name: string): ProviderDialect | undefined {
  return Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name as ProviderName] : undefined;
}
