import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialSource } from '../config/load.js';
import type { CredentialValues, ProviderDialect } from '../providers/types.js';
import { isTenantId } from './tenant-id.js';

/** What a tenant's folder holds: nothing, credentials that do not validate, or credentials. */
export type TenantRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] }
  | { readonly kind: 'found'; readonly values: CredentialValues };

/**
 * Reads one file per credential field from `<directory>/<id>/`, as a Kubernetes Secret volume lays
 * out its keys (symlinks into `..data`; dot entries skipped). The id must already be valid.
 * Values lose one trailing newline, as `${file:}` values do. Never log the values.
 */
export function readTenantFolder(directory: string, id: string): TenantRead {
  if (!isTenantId(id)) return { kind: 'missing' };
  const folder = join(directory, id);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'invalid', problems: [`${folder}: cannot be listed (${code ?? 'unreadable'})`] };
  }
  const values: Record<string, string> = {};
  for (const name of names) {
    if (name.startsWith('.')) continue;
    try {
      values[name] = readFileSync(join(folder, name), 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      // A sub-folder is not a field; anything else unreadable is reported.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR') return { kind: 'invalid', problems: [`${join(folder, name)}: cannot be read (${code ?? 'unreadable'})`] };
    }
  }
  return { kind: 'found', values };
}

/** Validates a tenant's values against the provider's credentials schema; problems name the file. */
export function tenantProblems(dialect: ProviderDialect, folder: string, values: CredentialValues): string[] {
  const parsed = dialect.credentials.safeParse(values);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${join(folder, key)}: is not a credential field of provider ${dialect.name}; remove the file`);
    const field = issue.path.map(String).join('.');
    return [`${field === '' ? folder : join(folder, field)}: ${/received undefined/.test(issue.message) ? 'is required (add the file)' : issue.message}`];
  });
}

/**
 * One tenant's credentials as a Credential reads them: re-read from its folder at each token fetch
 * (a rotated Secret is used from the next fetch on); a folder mid-swap keeps the last good values.
 */
export class TenantSource implements CredentialSource {
  readonly #directory: string;
  readonly #id: string;
  #last: CredentialValues;
  /** When the folder was last compared with what is in use (rejected and API-key tenants). */
  checkedAt: number;
  readonly files: readonly string[] = [];
  readonly templates: Readonly<Record<string, string>>;

  constructor(directory: string, id: string, initial: CredentialValues, now: number) {
    this.#directory = directory;
    this.#id = id;
    this.#last = initial;
    this.checkedAt = now;
    this.templates = Object.fromEntries(Object.keys(initial).map((field) => [field, `\${file:${join(directory, id, field)}}`]));
  }

  read(): CredentialValues {
    const read = readTenantFolder(this.#directory, this.#id);
    if (read.kind === 'found') this.#last = read.values;
    return this.#last;
  }

  /** Reads the folder again: whether it now differs from the values last in use (`read()` then returns them). */
  changed(now: number): boolean {
    this.checkedAt = now;
    const before = this.#last;
    const after = this.read();
    const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const field of fields) if (before[field] !== after[field]) return true;
    return false;
  }
}
