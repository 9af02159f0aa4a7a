import type { Token } from './token.js';

/** Why the last token attempt failed, and when the next one is due. Secret-free. */
export interface Failure {
  readonly reason: string;
  readonly since: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

/**
 * A credential's lifecycle. Whether a refresh is in flight, and whether a grant waits to be
 * stored, are activities beside it (a failing credential retries; a valid one refreshes ahead).
 *
 *   empty ──obtain──▶ valid ──refresh fails──▶ failing ──retry──▶ valid
 *     │                 │ ▲                        │
 *     └──rejected──▶ rejected ◀──4xx / OAuth error─┘    (a 401 upstream drops the token: → empty)
 *
 * `failing` and `rejected` keep the token while it is still injectable, so a failing refresh
 * never cuts an app off before its token expires.
 */
export type Lifecycle =
  | { readonly kind: 'empty' }
  | { readonly kind: 'valid'; readonly token: Token }
  | { readonly kind: 'failing'; readonly token: Token | undefined; readonly failure: Failure }
  | { readonly kind: 'rejected'; readonly token: Token | undefined; readonly failure: Failure };

/** The request path's one question, answered: a token, a fetch to wait on, or a failure. */
export type Current =
  | { readonly kind: 'token'; readonly token: Token }
  | { readonly kind: 'wait'; readonly until: Promise<void>; readonly started: boolean }
  | { readonly kind: 'failure'; readonly failure: Failure };
