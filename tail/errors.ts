/**
 * The error that ends a `tail` run: the CLI prints its message and exits 1.
 * @module
 */

/**
 * Why a run failed: the server refused the token or request (`auth`, a close 1008), closed
 * with another close its close table says not to retry (`refused`, e.g. 1009), or could not be
 * reached (`unreachable`).
 */
export type TailErrorKind = "auth" | "refused" | "unreachable";

/** A run that cannot go on; the CLI prints `message` and exits 1. */
export class TailError extends Error {
  /** What went wrong. */
  readonly kind: TailErrorKind;
  /** The server's close reason (e.g. `token expired`), as sent: escape to print. */
  readonly closeReason: string | undefined;
  /** Creates a tail error; `message` says what failed and what to do. */
  constructor(kind: TailErrorKind, message: string, options?: { closeReason?: string }) {
    super(message);
    this.name = "TailError";
    this.kind = kind;
    this.closeReason = options?.closeReason;
  }
}
