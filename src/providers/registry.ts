import { cobee } from './cobee.js';
import { covver } from './covver.js';
import { light } from './light.js';
import { oauth2 } from './oauth2.js';
import { petje } from './petje.js';
import type { ProviderDialect } from './types.js';

/** Every provider the config may name. A new provider is one file and one line here. */
export const PROVIDERS = {
  covver,
  cobee,
  petje,
  light,
  oauth2,
} as const satisfies Record<string, ProviderDialect>;

export type ProviderName = keyof typeof PROVIDERS;
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];
