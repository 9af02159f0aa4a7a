import { Agent, Pool, type Dispatcher } from 'undici';
import type { RouteConfig } from '../config/load.js';
import { ClientCertificateAgent } from './client-certificate.js';

export interface PoolSettings {
  readonly connections: number;
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly idleTimeout: number;
}

/**
 * Keep-alive connection pools, one per route: to the upstream (forwarding) and for the
 * token endpoint. TLS is always verified; a route's `caFile` adds its CA.
 */
export class UpstreamPools {
  readonly #upstreams = new Map<string, Pool>();
  readonly #tokenAgents = new Map<string, Dispatcher>();
  readonly #settings: PoolSettings;

  constructor(settings: PoolSettings) {
    this.#settings = settings;
  }

  #connect(route: RouteConfig) {
    return { timeout: this.#settings.connectTimeout, rejectUnauthorized: true, ...(route.ca === undefined ? {} : { ca: route.ca }) };
  }

  upstream(route: RouteConfig): Pool {
    let pool = this.#upstreams.get(route.name);
    if (!pool) {
      pool = new Pool(route.upstream.origin, {
        connections: this.#settings.connections,
        keepAliveTimeout: 30_000,
        headersTimeout: this.#settings.headersTimeout,
        bodyTimeout: this.#settings.idleTimeout,
        connect: this.#connect(route),
      });
      this.#upstreams.set(route.name, pool);
    }
    return pool;
  }

  tokenEndpoint(route: RouteConfig): Dispatcher {
    let agent = this.#tokenAgents.get(route.name);
    if (!agent) {
      const build = (tls: { cert: string; key: string } | object = {}) => new Agent({ connections: 4, keepAliveTimeout: 10_000, connect: { ...this.#connect(route), ...tls } });
      const files = () => route.credentials.read() as { certFile?: string; keyFile?: string };
      const { certFile, keyFile } = files();
      // tls_client_auth: the certificate goes in the handshake, re-read when its files rotate.
      agent = certFile !== undefined && keyFile !== undefined ? new ClientCertificateAgent(() => files() as { certFile: string; keyFile: string }, build) : build();
      this.#tokenAgents.set(route.name, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    const all = [...this.#upstreams.values(), ...this.#tokenAgents.values()];
    this.#upstreams.clear();
    this.#tokenAgents.clear();
    await Promise.all(all.map((dispatcher) => dispatcher.destroy()));
  }
}
