/**
 * Reconnect delays of the tail client: exponential, capped, with jitter so that many clients
 * dropped by one server restart do not all come back in the same millisecond.
 * @module
 */

/** First reconnect delay, ms. */
export const RECONNECT_MIN_MS = 250;
/** Largest reconnect delay, ms. */
export const RECONNECT_MAX_MS = 5_000;

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay of the first retry before jitter, ms. */
  minMs?: number;
  /** Cap of the delay before jitter, ms. */
  maxMs?: number;
  /** Uniform in [0, 1). */
  random: () => number;
}

/**
 * Delay before retry number `attempt` (0 = first): `min * 2^attempt` capped at `max`, then
 * "equal jitter" — a random point in the upper half, so it never exceeds the cap.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const min = options.minMs ?? RECONNECT_MIN_MS;
  const max = Math.max(min, options.maxMs ?? RECONNECT_MAX_MS);
  const base = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * options.random());
}
