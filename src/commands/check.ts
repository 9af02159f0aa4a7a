import { stringify } from 'yaml';
import { describeSource } from '../config/references.js';
import type { SidecarConfig } from '../config/load.js';

const hostPort = (address: { host: string; port: number }) => `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;

/** The resolved config as `check` prints it: every credential shown only by where it comes from. */
export function describeConfig(config: SidecarConfig): string {
  return stringify({
    listen: hostPort(config.listen),
    admin: hostPort(config.admin),
    store: config.store.type === 'memory' ? { type: 'memory' } : config.store.type === 'file' ? { type: 'file', path: config.store.path } : { type: 'redis', url: '<redacted>' },
    routes: Object.fromEntries(
      config.routes.map((route) => [
        route.name,
        {
          provider: route.provider,
          path: route.listen ? `every path on ${hostPort(route.listen)}` : `/${route.name}/`,
          upstream: route.upstream.href,
          tokenUrl: route.dialect.staticAuthorization?.(route.credentials.read()) !== undefined ? '(none: static API key)' : route.tokenUrl,
          ...(route.refreshUrl !== route.tokenUrl ? { refreshUrl: route.refreshUrl } : {}),
          ...(route.caFile ? { caFile: route.caFile } : {}),
          // Where the token goes, when not the usual `authorization: Bearer` (a described provider's `send`).
          ...(route.dialect.sends && (route.dialect.sends.header !== 'authorization' || route.dialect.sends.scheme !== 'Bearer') ? { sends: `${route.dialect.sends.header}: ${route.dialect.sends.scheme === '' ? '' : `${route.dialect.sends.scheme} `}<token>` } : {}),
          ...(route.provider === 'oauth2' ? { clientAuth: route.options.clientAuth ?? 'client_secret_basic (default)' } : {}),
          ...(route.options.authorizeUrl ? { authorizeUrl: route.options.authorizeUrl } : {}),
          // Values may be anything a server wants, secrets included: only the names are shown.
          ...(route.options.tokenParams ? { tokenParams: Object.fromEntries(Object.keys(route.options.tokenParams).map((key) => [key, '<set>'])) } : {}),
          credentials: Object.fromEntries(Object.entries(route.credentials.templates).map(([key, template]) => [key, describeSource(template)])),
        },
      ]),
    ),
  });
}
