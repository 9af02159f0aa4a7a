import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { appResponseHeaders } from './headers.js';

/**
 * The app's side of a forwarded request, as the exchange sees it: whether it left, and one slot
 * for what to do when it does (the upstream request to abort, or a 429 wait to cut short).
 * The server's one `close` listener calls `abort()`.
 */
export class Disconnect {
  left = false;
  #onLeave: (() => void) | undefined = undefined;

  abort(): void {
    if (this.left) return;
    this.left = true;
    const onLeave = this.#onLeave;
    this.#onLeave = undefined;
    onLeave?.();
  }

  /** Runs `action` when the app leaves (at once if it already has); `undefined` clears the slot. */
  onLeave(action: (() => void) | undefined): void {
    if (action !== undefined && this.left) action();
    else this.#onLeave = action;
  }
}

/**
 * The status sent on to the app; what `decide` returned for a head held back instead (a 401 or 429
 * to retry: its body is dropped); undefined when the app left or the answer was cut short.
 */
export type ExchangeResult<Held> = number | Held | undefined;

/**
 * One attempt of a forwarded request as an undici dispatch handler: the upstream's head and body go
 * straight to the app's response, with backpressure (a slow app pauses the upstream; `drain`
 * resumes it). undici's `Pool.stream` does the same through an AsyncResource, a Writable's three
 * lifecycle listeners, a `drain` listener and an abort-signal listener per request; the hot path
 * needs none of them: the app leaving aborts through `Disconnect`, and `drain` is listened to only
 * while paused.
 *
 * `decide` sees each final head: undefined sends it on, anything else holds it. `done` resolves
 * with the status sent on, what `decide` held, or undefined (the app left, or the
 * upstream failed after the head went out: the answer is cut short, the only honest signal left);
 * it rejects with the upstream's error when nothing was sent yet, for the caller to classify.
 */
export class UpstreamExchange<Held extends string | object> implements Dispatcher.DispatchHandler {
  readonly done: Promise<ExchangeResult<Held>>;
  readonly #res: ServerResponse;
  readonly #disconnect: Disconnect;
  readonly #decide: (statusCode: number, headers: IncomingHttpHeaders) => Held | undefined;
  #resolve!: (result: ExchangeResult<Held>) => void;
  #reject!: (error: Error) => void;
  /** Set once the head arrived: the status sent on (a number), or what was held. */
  #result: ExchangeResult<Held> = undefined;
  #resume: (() => void) | undefined = undefined;

  constructor(res: ServerResponse, disconnect: Disconnect, decide: (statusCode: number, headers: IncomingHttpHeaders) => Held | undefined) {
    this.#res = res;
    this.#disconnect = disconnect;
    this.#decide = decide;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // A request queued for a connection starts here: one whose app already left is aborted now.
    // (onResponseError then sees disconnect.left: the reason is never classified.)
    this.#disconnect.onLeave(() => controller.abort(new Error('the app closed its connection')));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim answers stay here: the app got its own 100 Continue from the forwarder.
    if (statusCode < 200) return;
    const held = this.#decide(statusCode, headers);
    if (held !== undefined) {
      this.#result = held;
      return;
    }
    this.#result = statusCode;
    const res = this.#res;
    res.writeHead(statusCode, appResponseHeaders(headers));
    process.nextTick(flushIfPending, res);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (typeof this.#result !== 'number') return;
    if (this.#res.write(chunk)) return;
    controller.pause();
    this.#resume ??= () => controller.resume();
    this.#res.once('drain', this.#resume);
  }

  onResponseEnd(): void {
    this.#disconnect.onLeave(undefined);
    if (typeof this.#result === 'number') this.#res.end();
    this.#resolve(this.#result);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#disconnect.onLeave(undefined);
    if (this.#disconnect.left) return this.#resolve(undefined);
    if (typeof this.#result === 'number') {
      // The head already went out: cut the answer short.
      this.#res.destroy(error);
      return this.#resolve(undefined);
    }
    this.#reject(error);
  }
}

/**
 * Headers on time: Node sends a head with the first body write. Small answers write their body in
 * the same read as their headers (one write); when nothing followed by the next tick (SSE,
 * long-poll, slow first byte), send the head alone.
 */
function flushIfPending(res: ServerResponse): void {
  if (!(res as unknown as { _headerSent: boolean })._headerSent && !res.destroyed) res.flushHeaders();
}
