import type { FaultPlan } from './types.js';

/** Holds the injected fault of one surface (token paths or API) and counts down `times`. */
export class FaultSlot<F extends { kind: string }> {
  private fault: F | undefined;
  private remaining: number | undefined;

  set(plan: FaultPlan<F> | undefined): void {
    if (plan === undefined) {
      this.fault = undefined;
      this.remaining = undefined;
      return;
    }
    const { times } = plan;
    if (times !== undefined && (!Number.isInteger(times) || times < 1)) {
      throw new RangeError(`fault "times" must be a positive integer or undefined, got ${String(times)}`);
    }
    this.fault = plan.fault;
    this.remaining = times;
  }

  /** The fault for the request now arriving, if any; counts it against `times`. */
  take(): F | undefined {
    const fault = this.fault;
    if (fault === undefined) return undefined;
    if (this.remaining !== undefined) {
      this.remaining -= 1;
      if (this.remaining === 0) this.set(undefined);
    }
    return fault;
  }
}
