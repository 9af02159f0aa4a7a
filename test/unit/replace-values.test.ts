// The one scrubber behind config errors and a token endpoint's shown words: every known value
// replaced, a value that contains another replaced whole (longest first), whatever order it came in.
import { describe, expect, it } from 'vitest';
import { replaceValues } from '../../src/replace-values.js';
import { endpointWords } from '../../src/token/endpoint-words.js';

describe('replaceValues', () => {
  it('replaces a value that contains another whole, in any order given', () => {
    const replacements = [['secret', '<a>'], ['secret-and-more', '<b>']] as const;
    expect(replaceValues('x secret-and-more y secret z', replacements)).toBe('x <b> y <a> z');
    expect(replaceValues('x secret-and-more y secret z', [...replacements].reverse())).toBe('x <b> y <a> z');
  });

  it('ignores empty values and leaves text without them alone', () => {
    expect(replaceValues('nothing here', [['', '<x>'], ['absent', '<y>']])).toBe('nothing here');
  });

  it('a token endpoint that reflects a longer secret holding a shorter one shows no part of either', () => {
    expect(endpointWords('bad: client-secret-2', ['client', 'client-secret-2'])).toBe('"bad: [redacted]"');
  });
});
