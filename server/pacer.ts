/**
 * The pace of the hub's fan-out: it counts deliveries made and owed and the time fan-out keeps
 * the event loop busy, samples the {@link OverloadDetector} once a tick (logging entering and
 * leaving overload once each), and runs deferred work once per turn of the event loop however
 * often it is asked for.
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
  /** CPU time the process has used, ms (only differences matter). */
  cpuMs: () => number;
  /** Runs a function soon, after pending I/O. */
  defer: (fn: () => void) => void;
  logger: Logger;
  /** The deferred work. */
  run: () => void;
}

/** Load accounting, overload decisions and deferred work for the hub. */
export class Pacer {
  readonly #detector: OverloadDetector;
  readonly #o: PacerOptions;
  #busyMs = 0;
  #sends = 0;
  #demand = 0;
  #lastTick: number;
  #lastCpu: number;
  #scheduled = false;

  constructor(options: PacerOptions) {
    this.#o = options;
    this.#detector = new OverloadDetector(options.overload);
    this.#lastTick = options.now;
    this.#lastCpu = options.cpuMs();
  }

  /** Whether fan-out is overloaded now (see {@link OverloadDetector}). */
  get overloaded(): boolean {
    return this.#detector.overloaded;
  }

  /**
   * Counts fan-out work: `busyMs` of it, `sends` messages handed to sockets, and `demand`
   * deliveries exact delivery owes. A burst of work since the last tick enters overload at once.
   */
  count(busyMs: number, sends: number, demand = 0): void {
    this.#busyMs += busyMs;
    this.#sends += sends;
    this.#demand += demand;
    if (this.#detector.burst(this.#busyMs)) this.#log(true);
  }

  /** Samples the load at `now`; logs a change of state, with the client count for context. */
  tick(now: number, clients: number): void {
    const elapsed = now - this.#lastTick;
    const cpu = this.#o.cpuMs();
    const was = this.#detector.overloaded;
    const overloaded = this.#detector.sample(now, {
      elapsedMs: elapsed,
      lagMs: Math.max(0, elapsed - TICK_EXPECTED_MS),
      cpuMs: cpu - this.#lastCpu,
      sends: this.#sends,
      demand: this.#demand,
    });
    this.#lastTick = now;
    this.#lastCpu = cpu;
    this.#busyMs = this.#sends = this.#demand = 0;
    if (overloaded !== was) this.#log(overloaded, clients);
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

  #log(overloaded: boolean, clients?: number): void {
    const d = this.#detector;
    const fields = {
      clients,
      share: Number(d.share.toFixed(2)),
      costMicros: Number((d.costMs * 1000).toFixed(1)),
    };
    if (overloaded) {
      this.#o.logger.warn("overloaded: sending the latest reading per sensor", fields);
    } else this.#o.logger.info("overload over: sending every reading again", fields);
  }
}
