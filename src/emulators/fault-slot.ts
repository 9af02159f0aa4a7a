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
    checkFault(plan.fault);
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

/** Rejects fault parameters that could only fail later, inside a request. */
function checkFault(fault: { kind: string; status?: unknown; ms?: unknown; bytes?: unknown }): void {
  const { kind, status, ms, bytes } = fault;
  if (kind === 'status' && !(Number.isInteger(status) && Number(status) >= 200 && Number(status) <= 599)) {
    throw new RangeError(`status fault needs an integer status 200-599, got ${String(status)}`);
  }
  if (kind === 'delay' && !(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
    throw new RangeError(`delay fault needs ms >= 0, got ${String(ms)}`);
  }
  if (kind === 'huge' && !(Number.isInteger(bytes) && Number(bytes) >= 0)) {
    throw new RangeError(`huge fault needs an integer bytes >= 0, got ${String(bytes)}`);
  }
}
