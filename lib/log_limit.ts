/**
 * Rate limit for log lines that a peer can cause (refused clients, bad payloads): a flood must
 * not flood the log, yet the operator learns how much was left out.
 * @module
 */

/** What {@link LogLimiter.take} decides. */
export type LogDecision = { log: false } | { log: true; suppressed: number | undefined };

/** Lets at most `perInterval` lines through in each `intervalMs` window; counts the rest. */
export class LogLimiter {
  readonly #perInterval: number;
  readonly #intervalMs: number;
  #windowStart = -Infinity;
  #inWindow = 0;
  #suppressed = 0;

  /** Throws `RangeError` unless both are positive. */
  constructor(perInterval: number, intervalMs: number) {
    if (!(perInterval >= 1 && intervalMs > 0)) {
      throw new RangeError(`LogLimiter needs perInterval >= 1 and intervalMs > 0`);
    }
    this.#perInterval = perInterval;
    this.#intervalMs = intervalMs;
  }

  /**
   * Whether a line may be written at `now` (ms). A line let through carries the number of
   * lines suppressed since the previous one (`undefined` when none), to be logged with it.
   */
  take(now: number): LogDecision {
    if (now - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#perInterval) {
      this.#suppressed++;
      return { log: false };
    }
    this.#inWindow++;
    const suppressed = this.#suppressed || undefined;
    this.#suppressed = 0;
    return { log: true, suppressed };
  }
}
