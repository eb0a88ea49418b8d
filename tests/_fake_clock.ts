/** A hand-held {@link Clock} for tests: time moves only when the test calls `advance`. */
import type { Clock } from "../lib/clock.ts";

interface FakeTimer {
  id: number;
  due: number;
  fn: () => void;
}

/** Options of {@link FakeClock}. */
export interface FakeClockOptions {
  /**
   * How late every timer fires after its due time, ms (default 0). Real timers run late by a
   * millisecond or more; code that reschedules from when a timer ran, not from when it was due,
   * drifts by this much per timer.
   */
  timerLagMs?: number;
}

/** A clock whose time and timers move only through {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  #now: number;
  readonly #lagMs: number;
  #nextId = 1;
  #timers: FakeTimer[] = [];

  /** Starts at `start` ms (default 0); timers fire `options.timerLagMs` late. */
  constructor(start = 0, options: FakeClockOptions = {}) {
    const lag = options.timerLagMs ?? 0;
    if (!(lag >= 0 && Number.isFinite(lag))) {
      throw new RangeError(`FakeClock timerLagMs must be a finite number >= 0, got ${lag}`);
    }
    this.#now = start;
    this.#lagMs = lag;
  }

  /** Current fake time in ms. */
  now(): number {
    return this.#now;
  }

  /**
   * Schedules `fn` at now + `ms` (negative delays count as 0) plus the timer lag; returns a
   * numeric handle.
   */
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.push({ id, due: this.#now + Math.max(0, ms) + this.#lagMs, fn });
    return id;
  }

  /** Cancels a timer; unknown handles are ignored. */
  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Timers scheduled and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way in due order
   * (ties in scheduling order), with `now()` set to each timer's due time while it runs.
   * Timers scheduled by those callbacks run too if they fall due within the span.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance needs ms >= 0, got ${ms}`);
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers) {
        if (
          t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))
        ) {
          next = t;
        }
      }
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.due;
      next.fn();
    }
    this.#now = target;
  }
}
