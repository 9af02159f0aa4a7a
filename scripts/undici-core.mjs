// What the sidecar uses of undici (Pool, Agent, Dispatcher and the request API), for the bundle:
// undici's index also loads fetch, WebSocket, EventSource, the mocks, caches and proxy agents,
// ~13 MB of RSS and ~30 ms of start-up that a sidecar never uses (scripts/bundle.mjs maps
// 'undici' to this file). The same wiring as undici's index.js: the API methods on Dispatcher.
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import Pool from 'undici/lib/dispatcher/pool.js';
import api from 'undici/lib/api/index.js';
import errors from 'undici/lib/core/errors.js';
import { URL } from 'node:url';

Object.assign(Dispatcher.prototype, api);

/** undici's top-level request(url, { dispatcher, ... }), for a caller that always names its dispatcher. */
export function request(url, { dispatcher, ...options }) {
  const target = new URL(url);
  return dispatcher.request({ ...options, origin: target.origin, path: `${target.pathname}${target.search}`, method: options.method ?? 'GET' });
}

export { Agent, Dispatcher, errors, Pool };
