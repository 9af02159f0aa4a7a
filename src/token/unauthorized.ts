import { backoffCeiling } from './backoff.js';

/**
 * 401s that fresh tokens did not cure: while the backoff runs, a 401 goes back to the app without
 * a refresh (the token is not the problem, and a refresh per request would hammer the token
 * endpoint and get the whole route rate-limited).
 */
export class UnauthorizedBackoff {
  #streak = 0;
  #tokenId = 0;
  #until = 0;

  constructor(private readonly settings: { readonly backoffInitial: number; readonly backoffMax: number }) {}

  /** Whether a 401 to `tokenId` should be answered without trying a fresh token. */
  holdsBack(tokenId: number, currentTokenId: number | undefined, now: number): boolean {
    return this.#streak > 0 && now < this.#until && currentTokenId === tokenId;
  }

  /** The retry after a 401 came back; `unauthorized` when it was a 401 again (with a fresh token). */
  retried(tokenId: number, unauthorized: boolean, now: number): void {
    if (!unauthorized) {
      this.#streak = 0;
      return;
    }
    if (tokenId === this.#tokenId) return; // once per token, however many requests carried it
    this.#tokenId = tokenId;
    this.#streak += 1;
    this.#until = now + backoffCeiling(this.#streak - 1, this.settings.backoffInitial, this.settings.backoffMax);
  }
}
