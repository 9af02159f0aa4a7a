import type { WebSocketDeps, WebSocketForwarder } from './websocket.js';

/**
 * The WebSocket engine (src/proxy/websocket.ts and its upgrade handshake) loads with the first
 * `Upgrade` request: most routes never see one, and a sidecar should not carry what it does not
 * use. The route gauges are at 0 from the start, as the engine itself would set them.
 */
export function lazyWebSocketForwarder(deps: WebSocketDeps): Pick<WebSocketForwarder, 'upgrade' | 'close'> {
  for (const route of deps.routes) deps.metrics.websockets.set({ route }, 0);
  let loading: Promise<WebSocketForwarder> | undefined;
  let engine: WebSocketForwarder | undefined;
  return {
    async upgrade(...args) {
      loading ??= import('./websocket.js').then(({ WebSocketForwarder: Engine }) => (engine = new Engine(deps)));
      return (await loading).upgrade(...args);
    },
    close() {
      engine?.close();
    },
  };
}
