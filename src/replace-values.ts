/**
 * Replaces every occurrence of each known value in `text` by its replacement, longest value first,
 * so a secret that contains another is replaced whole. The one way the config errors
 * (`${file:}`/`${env:}` values) and a token endpoint's words (the request's own secrets) are scrubbed.
 */
export function replaceValues(text: string, replacements: ReadonlyArray<readonly [value: string, replacement: string]>): string {
  const ordered = [...replacements].filter(([value]) => value.length > 0).sort((a, b) => b[0].length - a[0].length);
  return ordered.reduce((scrubbed, [value, replacement]) => scrubbed.split(value).join(replacement), text);
}
