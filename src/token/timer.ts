import type { Clock } from './clock.js';

/** Node's timers hold at most 2³¹−1 ms (~24.8 days); a longer delay fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One pending callback at an absolute time, on an injected clock. A time further away than a
 * timer can hold is reached in steps, so a long-lived token never turns into a refresh loop.
 */
export class Timer {
  #handle: unknown;

  constructor(private readonly clock: Clock) {}

  get armed(): boolean {
    return this.#handle !== undefined;
  }

  /** Replaces any pending callback with `callback` at `at` (clock time). */
  at(at: number, callback: () => void): void {
    this.cancel();
    const step = () => {
      const left = at - this.clock.now();
      if (left > MAX_TIMER_MS) {
        this.#handle = this.clock.setTimeout(step, MAX_TIMER_MS);
        return;
      }
      this.#handle = this.clock.setTimeout(() => {
        this.#handle = undefined;
        callback();
      }, Math.max(0, left));
    };
    step();
  }

  cancel(): void {
    if (this.#handle !== undefined) this.clock.clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
