import { readFileSync } from 'node:fs';
import { Dispatcher, type Agent } from 'undici';

export interface ClientCertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A token-endpoint dispatcher that presents a client certificate (RFC 8705 tls_client_auth) and
 * re-reads the files at each token request: when cert-manager or a Secret update rotates them, the
 * next fetch handshakes with the new pair (the old agent drains and closes).
 */
export class ClientCertificateAgent extends Dispatcher {
  readonly #files: () => ClientCertificateFiles;
  readonly #build: (tls: { cert: string; key: string }) => Agent;
  #agent: Agent | undefined;
  #loaded = '';

  constructor(files: () => ClientCertificateFiles, build: (tls: { cert: string; key: string }) => Agent) {
    super();
    this.#files = files;
    this.#build = build;
  }

  #current(): Agent {
    const { certFile, keyFile } = this.#files();
    let pair: { cert: string; key: string } | undefined;
    try {
      pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
    } catch (error) {
      // Mid-swap of a secret volume: keep the last pair rather than fail the fetch.
      if (this.#agent) return this.#agent;
      throw error;
    }
    const loaded = `${pair.cert}\u0000${pair.key}`;
    if (!this.#agent || loaded !== this.#loaded) {
      const previous = this.#agent;
      this.#agent = this.#build(pair);
      this.#loaded = loaded;
      void previous?.close();
    }
    return this.#agent;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#current().dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await this.#agent?.close();
  }

  override async destroy(): Promise<void> {
    await this.#agent?.destroy();
  }
}
