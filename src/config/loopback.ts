import { isIP } from 'node:net';
import type { SidecarConfig } from './load.js';

/**
 * Whether a host (a listen address or a request's Host name, without port or brackets) is this
 * machine's loopback: `localhost` and `*.localhost` (RFC 6761: never sent to DNS, so no rebinding
 * can claim them), 127.0.0.0/8, ::1 and IPv4-mapped 127.x.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const family = isIP(name);
  if (family === 4) return name.startsWith('127.');
  if (family !== 6) return false;
  // The URL parser writes IPv6 in one canonical form: [::1], and [::ffff:7fxx:xxxx] for 127.x.
  const canonical = new URL(`http://[${name}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** A proxy listener off loopback (allowed only with guard.allowNonLoopback) and the routes it serves. */
export interface ExposedListener {
  readonly listener: string;
  readonly address: string;
  readonly routes: readonly string[];
  /** The route whose own listener (`routes.<name>.listen`) this is; undefined for the main one. */
  readonly ownRoute?: string;
}

/** The proxy listeners that are not on loopback: the start-up warning names each and what it exposes. */
export function exposedListeners(config: Pick<SidecarConfig, 'listen' | 'routes'>): ExposedListener[] {
  const listeners = [
    { listener: 'listen', address: config.listen, routes: config.routes.filter((route) => !route.listen).map((route) => route.name) },
    ...config.routes.flatMap((route) => (route.listen ? [{ listener: `routes.${route.name}.listen`, address: route.listen, routes: [route.name], ownRoute: route.name }] : [])),
  ];
  return listeners.filter(({ address }) => !isLoopbackHost(address.host)).map(({ address, ...rest }) => ({ ...rest, address: `${address.host}:${address.port}` }));
}
