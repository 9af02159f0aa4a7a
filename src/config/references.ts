import { readBounded } from './read-bounded.js';

const REFERENCE = /\$\{(env|file):([^}]+)\}/g;
/** POSIX environment variable names: `${env:constructor}` must not reach Object.prototype, so only own keys of this shape. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A credential file (secret, key, certificate chain) is small; a larger one is a mistake (or /dev/zero). */
export const MAX_REFERENCED_FILE_BYTES = 1024 * 1024;

/** A config string holding `${env:NAME}` / `${file:PATH}` references, resolvable again later. */
export interface Reference {
  readonly template: string;
  readonly files: readonly string[];
}

export function referencesIn(template: string): Reference | undefined {
  const files: string[] = [];
  let found = false;
  for (const match of template.matchAll(REFERENCE)) {
    found = true;
    if (match[1] === 'file') files.push((match[2] as string).trim());
  }
  return found ? { template, files } : undefined;
}

/** Each `${env:NAME}` / `${file:PATH}` written in `template`, as written. */
export function referenceStrings(template: string): string[] {
  return [...template.matchAll(REFERENCE)].map((match) => match[0]);
}

/** Resolves every reference in `template`; throws an Error whose message says what to fix. */
export function resolveTemplate(template: string, env: NodeJS.ProcessEnv = process.env): string {
  return template.replace(REFERENCE, (_whole, kind: string, rawName: string) => {
    const name = rawName.trim();
    if (kind === 'env') {
      if (!ENV_NAME.test(name)) throw new Error(`\${env:${name}} is not an environment variable name (letters, digits and "_", not starting with a digit); fix the reference`);
      const value = Object.hasOwn(env, name) ? env[name] : undefined;
      if (value === undefined) throw new Error(`environment variable ${name} is not set; export it or change the value`);
      return value;
    }
    try {
      // Kubernetes-mounted secrets often end with a newline the provider would reject.
      return readBounded(name, MAX_REFERENCED_FILE_BYTES).replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      const why = code === 'EFBIG' ? `larger than ${MAX_REFERENCED_FILE_BYTES} bytes` : code;
      throw new Error(`cannot read file ${name} (${why}); mount the secret there or fix the path`, { cause: error });
    }
  });
}

/** Describes where a secret comes from without revealing it, for `check` and logs. */
export function describeSource(template: string | undefined): string {
  if (template === undefined) return '<unset>';
  const reference = referencesIn(template);
  return reference ? `<redacted: ${template}>` : '<redacted: inline value>';
}
