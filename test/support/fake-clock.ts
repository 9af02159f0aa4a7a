import type { Clock } from '../../src/token/clock.js';
import { MAX_TIMER_MS } from '../../src/token/timer.js';

/** A clock whose time moves only when a test says so; timers fire in order as it advances. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    // Node clamps a longer delay to 1 ms: refuse it, so a test catches an overflowing schedule.
    if (ms > MAX_TIMER_MS) throw new RangeError(`timer delay ${ms} ms exceeds ${MAX_TIMER_MS} ms: Node would fire it after 1 ms`);
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].callback();
    }
    this.#now = target;
  }

  /** When the next timer is due, if any. */
  nextTimerAt(): number | undefined {
    const times = [...this.#timers.values()].map((timer) => timer.at);
    return times.length === 0 ? undefined : Math.min(...times);
  }
}
