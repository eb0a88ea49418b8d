/**
 * Per-key throttle with a leading edge and a trailing latest value: at most one value per key
 * per window, and the last value of a burst is never lost. Time comes from an injected
 * {@link Clock}, so tests move a hand-held clock instead of waiting.
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

/** Window state of one key; exists only while the key's window is open. */
interface Window<T> {
  timer: unknown;
  hasPending: boolean;
  pending: T | undefined;
}

/**
 * Throttles values per key, independently: the first value of a quiet key is emitted at once
 * and opens a window of `windowMs`; values inside the window replace each other, and the
 * latest is emitted when the window ends (opening the next one). `windowMs` 0 emits every
 * value at once.
 *
 * `emit` should not throw: a throw from a leading-edge emit reaches the caller of
 * {@link Throttle.push}, one from a window end reaches the timer (the throttle's own state
 * stays consistent either way).
 */
export class Throttle<T> {
  readonly #windowMs: number;
  readonly #emit: (key: string, value: T) => void;
  readonly #clock: Clock;
  readonly #windows = new Map<string, Window<T>>();
  #pendingCount = 0;
  #dropped = 0;
  #closed = false;

  /** Creates a throttle emitting through `emit`; throws `RangeError` on a bad `windowMs`. */
  constructor(windowMs: number, emit: (key: string, value: T) => void, clock: Clock = systemClock) {
    if (!Number.isFinite(windowMs) || windowMs < 0) {
      throw new RangeError(
        `Throttle window must be a finite number of ms >= 0, got ${windowMs} (use 0 to disable)`,
      );
    }
    this.#windowMs = windowMs;
    this.#emit = emit;
    this.#clock = clock;
  }

  /**
   * Offers a value for `key`: `"sent"` when emitted now, `"deferred"` when held for the end
   * of the key's window. After {@link Throttle.close} values are discarded (`"deferred"`).
   */
  push(key: string, value: T): "sent" | "deferred" {
    if (this.#closed) return "deferred";
    if (this.#windowMs === 0) {
      this.#emit(key, value);
      return "sent";
    }
    const open = this.#windows.get(key);
    if (open) {
      if (open.hasPending) this.#dropped++;
      else this.#pendingCount++;
      open.hasPending = true;
      open.pending = value;
      return "deferred";
    }
    const window: Window<T> = { timer: undefined, hasPending: false, pending: undefined };
    this.#windows.set(key, window);
    window.timer = this.#clock.setTimeout(() => this.#windowEnd(key, window), this.#windowMs);
    this.#emit(key, value);
    return "sent";
  }

  /** Values replaced by a newer one for the same key before they were emitted. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Keys holding a value for the end of their window. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** Keys whose window is open (the only keys the throttle keeps state for). */
  get openWindows(): number {
    return this.#windows.size;
  }

  /** Cancels every timer and discards pending values; later pushes are discarded too. */
  close(): void {
    this.#closed = true;
    for (const window of this.#windows.values()) this.#clock.clearTimeout(window.timer);
    this.#windows.clear();
    this.#pendingCount = 0;
  }

  #windowEnd(key: string, window: Window<T>): void {
    if (this.#windows.get(key) !== window) return; // closed meanwhile
    if (!window.hasPending) {
      this.#windows.delete(key);
      return;
    }
    const value = window.pending as T;
    window.hasPending = false;
    window.pending = undefined;
    this.#pendingCount--;
    window.timer = this.#clock.setTimeout(() => this.#windowEnd(key, window), this.#windowMs);
    this.#emit(key, value);
  }
}
