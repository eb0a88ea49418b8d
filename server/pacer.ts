/**
 * The pace of the hub's fan-out: it adds up the time fan-out keeps the event loop busy, samples
 * the {@link OverloadDetector} once a tick (logging entering and leaving overload once each), and
 * runs deferred work once per turn of the event loop however often it is asked for.
 * @module
 */
import type { Logger } from "../lib/log.ts";
import { OverloadDetector, type OverloadThresholds } from "./overload.ts";

/** The interval the server ticks the hub at, ms: later ticks mean a saturated event loop. */
export const TICK_EXPECTED_MS = 100;

/** What a {@link Pacer} needs. */
export interface PacerOptions {
  /** Clock time of creation, ms (the first tick measures from it). */
  now: number;
  overload: Partial<OverloadThresholds>;
  /** Runs a function soon, after pending I/O. */
  defer: (fn: () => void) => void;
  logger: Logger;
  /** The deferred work. */
  run: () => void;
}

/** Busy-time accounting, overload decisions and deferred work for the hub. */
export class Pacer {
  readonly #detector: OverloadDetector;
  readonly #o: PacerOptions;
  #busyMs = 0;
  #lastTick: number;
  #scheduled = false;

  constructor(options: PacerOptions) {
    this.#o = options;
    this.#detector = new OverloadDetector(options.overload);
    this.#lastTick = options.now;
  }

  /** Whether fan-out is overloaded now (see {@link OverloadDetector}). */
  get overloaded(): boolean {
    return this.#detector.overloaded;
  }

  /** Counts `ms` of fan-out work since the last tick. */
  busy(ms: number): void {
    this.#busyMs += ms;
  }

  /** Samples the load at `now`; logs a change of state, with the client count for context. */
  tick(now: number, clients: number): void {
    const elapsed = now - this.#lastTick;
    this.#lastTick = now;
    const was = this.#detector.overloaded;
    const overloaded = this.#detector.sample(now, {
      busyMs: this.#busyMs,
      elapsedMs: elapsed,
      lagMs: Math.max(0, elapsed - TICK_EXPECTED_MS),
    });
    this.#busyMs = 0;
    if (overloaded === was) return;
    const fields = { clients, busy: Number(this.#detector.busy.toFixed(2)) };
    if (overloaded) {
      this.#o.logger.warn("overloaded: sending the latest reading per sensor", fields);
    } else this.#o.logger.info("overload over: sending every reading again", fields);
  }

  /** Runs the deferred work on the next turn of the event loop (once, however often asked). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#o.defer(() => {
      this.#scheduled = false;
      this.#o.run();
    });
  }
}
