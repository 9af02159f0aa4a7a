import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import type { CredentialValues, ProviderDialect, RouteOptions } from '../providers/types.js';
import { replaceValues } from '../replace-values.js';
import { ConfigError } from './config-error.js';
import { readConfigDocument, type DocumentLimits } from './document.js';
import { referencesIn, referenceStrings, resolveTemplate } from './references.js';
import { configSchema, routeDialect, validatedConfigSchema, type HostPort, type RawConfig } from './schema.js';

export { ConfigError };

/** A route's credentials: resolved now, and re-read from `${file:}` at each token fetch (rotation). */
export interface CredentialSource {
  /** Current values; a vanished secret file keeps the last good value. Never log the result. */
  read(): CredentialValues;
  /** The raw templates, to describe where each secret comes from. */
  readonly templates: Readonly<Record<string, string>>;
  /** Files the values come from, watched for rotation. */
  readonly files: readonly string[];
}

export interface RouteConfig {
  readonly name: string;
  /** A built-in provider or one described under `providers`. */
  readonly provider: string;
  readonly dialect: ProviderDialect;
  readonly upstream: URL;
  readonly tokenUrl: string;
  readonly refreshUrl: string;
  readonly listen: HostPort | undefined;
  readonly ca: string | undefined;
  readonly caFile: string | undefined;
  /** Retry an idempotent request once after a 429 whose Retry-After is at most maxWait (ms). */
  readonly retry429: { readonly maxWait: number } | undefined;
  /** The route's own token-request keys (provider oauth2), as configured: `check` prints them. */
  readonly options: RouteOptions;
  readonly credentials: CredentialSource;
  /** Per-tenant credentials (instead of `credentials`, which is then empty): see token/tenant-folder.ts. */
  readonly tenants: TenantsConfig | undefined;
  /** Set on a tenant's own view of its route (its credentials are that tenant's): for logs only. */
  readonly tenant?: string;
}

export interface TenantsConfig {
  /** The request header naming the tenant, lower-cased; stripped before forwarding. */
  readonly header: string;
  readonly directory: string;
}

export type SidecarConfig = Omit<RawConfig, 'routes'> & { readonly routes: readonly RouteConfig[] };

function keyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Each resolved value and the template it came from, so no error shows the value. */
type Resolved = Map<string, string>;

/** Replaces `${env:}`/`${file:}` in every string, recording each failure under its key path. */
function resolveAll(value: unknown, path: string[], problems: string[], resolved: Resolved): unknown {
  if (typeof value === 'string') {
    if (!referencesIn(value)) return value;
    try {
      const result = resolveTemplate(value);
      // The whole value, and each reference's own part (a secret may be only the host of "${file:x}:8080").
      if (result.length > 0) resolved.set(result, value);
      for (const reference of referenceStrings(value)) {
        const part = resolveTemplate(reference);
        if (part.length > 0 && !resolved.has(part)) resolved.set(part, reference);
      }
      return result;
    } catch (error) {
      problems.push(`${keyPath(path)}: ${(error as Error).message}`);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((item, index) => resolveAll(item, [...path, String(index)], problems, resolved));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveAll(item, [...path, key], problems, resolved)]));
  }
  return value;
}

/**
 * Problems as shown: a value read from `${file:}` or `${env:}` (a mounted Secret, the whole
 * environment) is replaced by its reference wherever a message would quote it, so editing a
 * ConfigMap never reads a Secret out through `kubectl logs`. Longest first; a value of under
 * four characters only where it stands quoted, so short ones do not eat ordinary words.
 */
function discreet(problems: readonly string[], resolved: Resolved): string[] {
  const replacements = [...resolved].map(([value, template]): [string, string] => (value.length >= 4 ? [value, template] : [`"${value}"`, `"${template}"`]));
  return problems.map((problem) => replaceValues(problem, replacements));
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key; remove it or fix its spelling (see the configuration reference in the README)`);
  }
  const message = /received undefined/.test(issue.message) ? `is required (${issue.message.replace(/^Invalid input: /, '')})` : issue.message;
  return [`${keyPath(issue.path)}: ${message}`];
}

function credentialSource(templates: Record<string, string>, initial: CredentialValues): CredentialSource {
  let last: CredentialValues = initial;
  const files = [...new Set(Object.values(templates).flatMap((template) => referencesIn(template)?.files ?? []))];
  return {
    templates,
    files,
    read() {
      const next: Record<string, string> = {};
      for (const [key, template] of Object.entries(templates)) {
        try {
          next[key] = resolveTemplate(template);
        } catch {
          // Mid-swap of a Kubernetes secret volume: keep the last good value rather than fail.
          const previous = last[key];
          if (previous !== undefined) next[key] = previous;
        }
      }
      last = next;
      return next;
    },
  };
}

/**
 * The credential a route's token belongs to: provider, token URL, client id and every field that
 * changes the token. Routes with the same key share one token and one refresh chain. Not secret.
 */
export function credentialKey(route: Pick<RouteConfig, 'provider' | 'tokenUrl' | 'dialect' | 'credentials'>): string {
  const values = route.credentials.read();
  const shaping = route.dialect.tokenShapingFields.map((field) => `${field}=${values[field] ?? ''}`);
  // tokenParams may hold anything a server wants: only their digest goes into store keys.
  const params = Object.entries(route.dialect.tokenParams ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const digest = params.length === 0 ? [] : [`params=${createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 32)}`];
  return [route.provider, route.tokenUrl, values.clientId ?? '', ...shaping, ...digest].join('\u0000');
}

/** Routes that share a credential must agree on its secrets, or which one is used depends on order. */
function conflictingCredentials(routes: readonly RouteConfig[]): string[] {
  const first = new Map<string, RouteConfig>();
  const problems: string[] = [];
  for (const route of routes) {
    if (route.tenants !== undefined || route.dialect.staticAuthorization?.(route.credentials.read()) !== undefined) continue;
    const key = credentialKey(route);
    const owner = first.get(key);
    if (!owner) {
      first.set(key, route);
      continue;
    }
    const mine = route.credentials.read();
    const theirs = owner.credentials.read();
    const differing = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].filter((field) => mine[field] !== theirs[field]);
    for (const field of differing) {
      problems.push(`routes.${route.name}.credentials.${field}: differs from routes.${owner.name} although both use client id "${mine.clientId ?? ''}" at the same token endpoint, so they share one token; give both the same credentials, or different client ids`);
    }
  }
  return problems;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Validates a parsed config document (YAML or JSON already parsed). Throws ConfigError. */
export function validateConfig(document: unknown): SidecarConfig {
  const problems: string[] = [];
  const values: Resolved = new Map();
  const resolved = resolveAll(document ?? {}, [], problems, values);
  const parsed = validatedConfigSchema.safeParse(resolved);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap(describeIssue));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(discreet(problems, values));

  const raw = parsed.data;
  const rawRoutes = (document as { routes: Record<string, { credentials: Record<string, unknown> }> }).routes;
  const routes: RouteConfig[] = [];
  const listeners = new Map<string, string>([[`${raw.listen.host}:${raw.listen.port}`, 'listen']]);
  for (const [name, route] of Object.entries(raw.routes)) {
    const base = routeDialect(route.provider, raw.providers) as ProviderDialect;
    const options: RouteOptions = { clientAuth: route.clientAuth, tokenParams: route.tokenParams, authorizeUrl: route.authorizeUrl };
    const dialect = base.configure?.(options) ?? base;
    const tokenUrl = route.tokenUrl ?? (dialect.defaultTokenUrl as string);
    let ca: string | undefined;
    if (route.caFile !== undefined) {
      try {
        ca = readFileSync(route.caFile, 'utf8');
      } catch (error) {
        problems.push(`routes.${name}.caFile: cannot read ${route.caFile} (${(error as NodeJS.ErrnoException).code}); mount the CA bundle there or remove caFile`);
      }
    }
    if (route.listen !== undefined) {
      const address = `${route.listen.host}:${route.listen.port}`;
      const other = listeners.get(address);
      if (other !== undefined && route.listen.port !== 0) problems.push(`routes.${name}.listen: ${address} is already used by ${other}; give each route its own port`);
      listeners.set(address, `routes.${name}.listen`);
    }
    if (route.tenants !== undefined && !isDirectory(route.tenants.directory)) {
      problems.push(`routes.${name}.tenants.directory: ${route.tenants.directory} is not a readable folder; mount the tenants' Secrets there (one folder per tenant) or fix the path`);
    }
    const templates = Object.fromEntries(
      Object.entries(rawRoutes[name]?.credentials ?? {})
        // A list (scope, resource) is held space-separated, each item re-resolved like a string.
        .map(([key, value]): [string, unknown] => [key, Array.isArray(value) && value.every((item) => typeof item === 'string') ? value.join(' ') : value])
        .filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    routes.push({
      name,
      provider: route.provider,
      dialect,
      upstream: new URL(route.upstream),
      tokenUrl,
      refreshUrl: route.refreshUrl ?? dialect.refreshUrl(tokenUrl),
      listen: route.listen,
      ca,
      caFile: route.caFile,
      retry429: route.retry429,
      options,
      credentials: credentialSource(templates, (route.credentials ?? {}) as CredentialValues),
      tenants: route.tenants,
    });
  }
  problems.push(...conflictingCredentials(routes));
  if (problems.length > 0) throw new ConfigError(discreet(problems, values));
  return { ...raw, routes };
}

/** Reads and validates a YAML or JSON config file. Throws ConfigError naming every problem. */
export function loadConfig(file: string, limits: DocumentLimits = {}): SidecarConfig {
  return validateConfig(readConfigDocument(file, limits));
}

/**
 * Only the `providers` of a config file, validated (`token-sidecar emulate --config`): the routes
 * and their secrets need not resolve on a developer's machine.
 */
export function loadDescribedProviders(file: string, limits: DocumentLimits = {}): RawConfig['providers'] {
  const document = readConfigDocument(file, limits) as { providers?: unknown } | null;
  const problems: string[] = [];
  const values: Resolved = new Map();
  const resolved = resolveAll({ providers: document?.providers ?? {} }, [], problems, values);
  const parsed = configSchema.pick({ providers: true }).safeParse(resolved);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap(describeIssue));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(discreet(problems, values));
  return parsed.data.providers;
}
