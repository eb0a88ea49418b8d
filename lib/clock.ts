/**
 * Time as the program sees it: a clock with timers, injectable so tests move a hand-held clock
 * instead of waiting, and the longest delay a timer can hold.
 * @module
 */

/** Time source and timers; inject a fake in tests. */
export interface Clock {
  /** Current time in ms. */
  now(): number;
  /** Runs `fn` after `ms`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or already-run handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number | undefined),
};

/**
 * Longest delay a timer can hold: 2^31 − 1 ms, about 24.8 days. `setTimeout` fires a longer
 * delay at once, so every duration option is bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    fn();
    handle = clock.setTimeout(run, ms);
  };
  handle = clock.setTimeout(run, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}

/**
 * Runs `fn` once at clock time `at`, however far away: a delay longer than a timer holds
 * ({@link MAX_TIMER_MS}) re-arms on the way. Returns a function that cancels it.
 */
export function at(clock: Clock, time: number, fn: () => void): () => void {
  let handle: unknown;
  const arm = () => {
    const ms = time - clock.now();
    handle = clock.setTimeout(() => {
      if (time > clock.now()) return arm();
      fn();
    }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  };
  arm();
  return () => clock.clearTimeout(handle);
}
