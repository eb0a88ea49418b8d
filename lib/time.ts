/**
 * Time limits shared by every command.
 * @module
 */

/**
 * Longest delay a timer can hold: 2^31 − 1 ms, about 24.8 days. `setTimeout` fires a longer
 * delay at once, so every duration option is bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
