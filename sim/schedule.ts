/**
 * When each message of a simulator run is due, and how much real time it stands for. The
 * schedule is absolute (message k is due at start + k·gap), so the rate does not drift when
 * publishing is slow. Time the broker was away is held: it moves the rest of the schedule and
 * the simulated clock alike, so the simulator neither bursts to catch up nor falls behind.
 * @module
 */

/** Options of {@link Schedule}. */
export interface ScheduleOptions {
  /** When message 0 is due, ms. */
  startMs: number;
  /** Time between two messages, ms. */
  gapMs: number;
  /** Messages published in the run; omitted = no limit. */
  count?: number | undefined;
  /** No message is due at or after this, ms. Default: no end. */
  endMs?: number | undefined;
}

/** A run's timetable; pure, on whatever clock `startMs` is read from. */
export class Schedule {
  /** No message is due at or after this, ms (`Infinity` when the run has no duration). */
  readonly endMs: number;
  readonly #o: ScheduleOptions;
  #heldMs = 0;

  /** A schedule from `options.startMs` on. */
  constructor(options: ScheduleOptions) {
    this.#o = options;
    this.endMs = options.endMs ?? Infinity;
  }

  /**
   * The schedule of a simulator run that starts at `startMs`: messages `1000 / ratePerSec`
   * apart, or spread so that each sensor gets one per `intervalMs`.
   */
  static of(
    options: {
      sensors: readonly string[];
      intervalMs: number;
      ratePerSec?: number | undefined;
      count?: number | undefined;
      durationMs?: number | undefined;
    },
    startMs: number,
  ): Schedule {
    const { ratePerSec, intervalMs, durationMs } = options;
    return new Schedule({
      startMs,
      gapMs: ratePerSec !== undefined ? 1_000 / ratePerSec : intervalMs / options.sensors.length,
      count: options.count,
      endMs: durationMs !== undefined ? startMs + durationMs : undefined,
    });
  }

  /**
   * Whether message `k` is part of the run: due before the end, and `sent` (the messages
   * published before it; fewer than `k` when an outage withheld some) still short of `count`.
   */
  includes(k: number, sent: number = k): boolean {
    const { count } = this.#o;
    return (count === undefined || sent < count) && this.dueAt(k) < this.endMs;
  }

  /** When message `k` is due, ms. */
  dueAt(k: number): number {
    return this.#o.startMs + this.#heldMs + k * this.#o.gapMs;
  }

  /** Real time message `k` stands for since the start: its slot plus the time held, ms. */
  elapsedAt(k: number): number {
    return k * this.#o.gapMs + this.#heldMs;
  }

  /** Moves every later message by `ms` (the broker was away that long). */
  hold(ms: number): void {
    this.#heldMs += ms;
  }
}
