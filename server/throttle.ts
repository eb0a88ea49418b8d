/**
 * Per-key throttle that schedules each key by its theoretical arrival time (GCRA-style): a key
 * that keeps to one value per window is never delayed, a burst goes out as one value per window
 * ending on its latest, and timer lag never accumulates. Time comes from an injected
 * {@link Clock}, so tests move a hand-held clock instead of waiting.
 * @module
 */
import { type Clock, systemClock } from "../lib/clock.ts";

/** State of one key; kept from its first value until its TAT passes with nothing held. */
interface KeyState<T> {
  /** Theoretical arrival time: when the key's next value is due if it keeps to the rate, ms. */
  tat: number;
  /** Clock time the key's one timer is armed for (at most `tat`), ms. */
  timerAt: number;
  timer: unknown;
  hasPending: boolean;
  pending: T | undefined;
  /** Clock time the held value arrived, ms. */
  heldAt: number;
  /** Whether a newer value replaced a held one since the last emit. */
  replaced: boolean;
}

/**
 * Throttles values per key, independently, by each key's theoretical arrival time (TAT): when
 * its next value is due if it sends one per window.
 *
 * - A value arriving no earlier than a quarter window before the key's TAT, with nothing held,
 *   is emitted at once, and TAT becomes the later of TAT and now, plus a window.
 * - An earlier value is held as the key's latest (a newer one replaces it and counts in
 *   {@link Throttle.dropped}) and is emitted at TAT, the window's end; TAT then moves on by
 *   one window from the time it was due, not from when the timer ran, so a late timer cannot
 *   push the schedule back (less up to 1 % of a window when the held value replaced nothing,
 *   so a key at the rate recovers from one very late value).
 *
 * So a burst goes out as its first value at once, then one value per window ending on its latest,
 * and over any long run a key gets at most one value per window (TAT moves a full window per
 * value). `windowMs` 0 emits every value at once and keeps no state.
 *
 * The tolerance is a quarter window because a sensor publishing once a window on its own clock,
 * with timing jitter up to ±10 % of the window, arrives up to 20 % of a window before its TAT (an
 * early reading after a late one); a quarter lets that through with 5 % to spare for network and
 * timer noise, while an early value still uses up a whole window. Held values wait for the full
 * window rather than the tolerance: holding one means the key already sent more than one value in
 * the window, so there is no jitter to forgive.
 *
 * `emit` should not throw: a throw from an immediate emit reaches the caller of
 * {@link Throttle.push}, one from a window end reaches the timer (the throttle's own state
 * stays consistent either way).
 */
export class Throttle<T> {
  readonly #windowMs: number;
  readonly #toleranceMs: number;
  readonly #emit: (key: string, value: T) => void;
  readonly #clock: Clock;
  readonly #keys = new Map<string, KeyState<T>>();
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
    this.#toleranceMs = windowMs / 4;
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
    const now = this.#clock.now();
    const state = this.#keys.get(key);
    if (!state) {
      const tat = now + this.#windowMs;
      const fresh: KeyState<T> = {
        tat,
        timerAt: tat,
        timer: undefined,
        hasPending: false,
        pending: undefined,
        heldAt: 0,
        replaced: false,
      };
      this.#keys.set(key, fresh);
      this.#arm(key, fresh);
      this.#emit(key, value);
      return "sent";
    }
    // The held value's slot has come but its timer has not run yet: send it as if on time.
    if (state.hasPending && now >= state.tat) this.#emit(key, this.#takeHeld(state));
    if (!state.hasPending && now >= state.tat - this.#toleranceMs) {
      // The key's timer stays armed for the old TAT and re-arms itself when it runs.
      state.tat = Math.max(state.tat, now) + this.#windowMs;
      this.#emit(key, value);
      return "sent";
    }
    if (state.hasPending) {
      this.#dropped++;
      state.replaced = true;
    } else {
      this.#pendingCount++;
      state.heldAt = now;
    }
    state.hasPending = true;
    state.pending = value;
    return "deferred";
  }

  /** Values replaced by a newer one for the same key before they were emitted. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Keys holding a value for the end of their window. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /**
   * Keys whose window is open: a value held, or one sent less than a window (plus any early
   * allowance) ago. These are the only keys the throttle keeps state for.
   */
  get openWindows(): number {
    return this.#keys.size;
  }

  /** Cancels every timer and discards pending values; later pushes are discarded too. */
  close(): void {
    this.#closed = true;
    for (const state of this.#keys.values()) this.#clock.clearTimeout(state.timer);
    this.#keys.clear();
    this.#pendingCount = 0;
  }

  #arm(key: string, state: KeyState<T>): void {
    state.timerAt = state.tat;
    const ms = Math.max(0, state.tat - this.#clock.now());
    state.timer = this.#clock.setTimeout(() => this.#due(key, state), ms);
  }

  /** The key's timer ran: send the held value, wait for a TAT that moved on, or forget the key. */
  #due(key: string, state: KeyState<T>): void {
    if (this.#keys.get(key) !== state) return; // closed meanwhile
    if (state.timerAt < state.tat) return this.#arm(key, state);
    if (!state.hasPending) {
      this.#keys.delete(key);
      return;
    }
    const value = this.#takeHeld(state);
    this.#arm(key, state);
    this.#emit(key, value);
  }

  /**
   * Clears the held value and gives its slot, TAT, to it: TAT moves on from the slot. When the
   * held value was the window's only one (it was merely early), the schedule recovers up to 1 %
   * of a window towards its arrival: a key at the rate that was once delivered very late (a
   * network retry past the tolerance) is held only for a while, not for good, while a key over
   * the rate (which replaces held values) still gets exactly one value per window.
   */
  #takeHeld(state: KeyState<T>): T {
    const value = state.pending as T;
    const early = state.tat - state.heldAt;
    const forgiven = state.replaced ? 0 : Math.min(this.#windowMs / 100, early);
    state.hasPending = false;
    state.pending = undefined;
    state.replaced = false;
    this.#pendingCount--;
    state.tat += this.#windowMs - forgiven;
    return value;
  }
}
