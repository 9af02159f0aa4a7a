import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { appResponseHeaders } from './headers.js';

/** How one upgrade request to the upstream ended. */
export type UpgradeResult =
  | { readonly kind: 'upgraded'; readonly headers: IncomingHttpHeaders; readonly upstream: Duplex }
  /** The upstream answered without upgrading; that answer went to the app as is. */
  | { readonly kind: 'answered'; readonly status: number }
  /** A 401 held back (its body discarded) so the upgrade can be retried with a fresh token. */
  | { readonly kind: 'unauthorized' };

export interface UpgradeRequest {
  readonly path: string;
  readonly headers: string[];
  readonly protocol: string;
  /** True to hold a 401 back for a retry (asked only when one arrives). */
  readonly holdUnauthorized: () => boolean;
}

function answerHead(status: number, statusText: string | undefined, headers: IncomingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || ''}\r\n`;
  const filtered = appResponseHeaders(headers);
  for (const name in filtered) {
    const value = filtered[name];
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${item}\r\n`;
  }
  // The body is relayed decoded and ends with the connection.
  return `${head}connection: close\r\n\r\n`;
}

/**
 * One upgrade request on the route's undici pool (its connection settings, `timeouts.connect` and
 * `timeouts.upstreamHeaders` apply). A non-101 answer is relayed to the app socket; the app
 * leaving aborts the attempt.
 */
export function attemptUpgrade(pool: Dispatcher, request: UpgradeRequest, app: Duplex): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    let held = false;
    let status = 0;
    let abort: ((reason: Error) => void) | undefined;
    const onAppClose = () => abort?.(new Error('the app closed its socket during the upgrade'));
    app.once('close', onAppClose);
    const settle = () => app.off('close', onAppClose);
    pool.dispatch(
      { path: request.path, method: 'GET', headers: request.headers, upgrade: request.protocol },
      {
        onRequestStart(controller) {
          abort = (reason) => controller.abort(reason);
        },
        onRequestUpgrade(_controller, _statusCode, headers, upstream) {
          settle();
          upstream.on('error', () => upstream.destroy());
          resolve({ kind: 'upgraded', headers, upstream });
        },
        onResponseStart(_controller, statusCode, headers, statusText) {
          if (statusCode < 200) return;
          status = statusCode;
          if (statusCode === 401 && request.holdUnauthorized()) {
            held = true;
            return;
          }
          app.write(answerHead(statusCode, statusText, headers));
        },
        onResponseData(_controller, chunk) {
          if (!held) app.write(chunk);
        },
        onResponseEnd() {
          settle();
          if (held) return resolve({ kind: 'unauthorized' });
          app.end();
          resolve({ kind: 'answered', status });
        },
        onResponseError(_controller, error) {
          settle();
          // Part of an answer already went out: cut it, there is no clean way to say more.
          if (status !== 0 && !held) app.destroy();
          reject(error);
        },
      },
    );
  });
}
