import { cobee } from './cobee.js';
import { covver } from './covver.js';
import type { Dialect } from './dialect.js';
import { light } from './light.js';
import { petje } from './petje.js';
import type { EmulatedProvider } from './types.js';

export const DIALECTS: Record<EmulatedProvider, Dialect> = { covver, cobee, petje, light };
