/**
 * When is the server overloaded? Fed once per hub tick with how long fan-out kept the event loop
 * busy and how late the tick ran, it decides, with hysteresis, so the hub switches between exact
 * delivery (every reading to every client) and conflated delivery (the latest per sensor, in
 * fair rounds). Pure: no timers, no clock of its own.
 * @module
 */

/** Thresholds of {@link OverloadDetector}. */
export interface OverloadThresholds {
  /** Overloaded when fan-out takes more than this share of the time (smoothed). Default 0.5. */
  enterBusy: number;
  /** ...or when a tick runs this much late, ms (the event loop is saturated). Default 250. */
  enterLagMs: number;
  /** Back to normal once below this share... Default 0.25. */
  leaveBusy: number;
  /** ...and without lag, for this long, ms. Default 3000. */
  leaveAfterMs: number;
}

const DEFAULTS: OverloadThresholds = {
  enterBusy: 0.5,
  enterLagMs: 250,
  leaveBusy: 0.25,
  leaveAfterMs: 3_000,
};

/** Smoothing of the busy share: the weight of the newest sample. */
const WEIGHT = 0.3;

/** Decides overload from samples. */
export class OverloadDetector {
  readonly #t: OverloadThresholds;
  #busy = 0;
  #overloaded = false;
  #calmSince: number | undefined;

  /** A detector with the given thresholds (defaults otherwise). */
  constructor(thresholds: Partial<OverloadThresholds> = {}) {
    this.#t = { ...DEFAULTS, ...thresholds };
  }

  /** Whether the server is overloaded now. */
  get overloaded(): boolean {
    return this.#overloaded;
  }

  /** The smoothed share of time spent in fan-out, 0 to 1. */
  get busy(): number {
    return this.#busy;
  }

  /**
   * Takes one sample at time `now` (ms): `busyMs` of fan-out work within the last `elapsedMs`,
   * and how late this sample's tick ran. Returns whether the server is overloaded now.
   */
  sample(now: number, sample: { busyMs: number; elapsedMs: number; lagMs: number }): boolean {
    const share = sample.elapsedMs > 0 ? Math.min(1, sample.busyMs / sample.elapsedMs) : 0;
    this.#busy = this.#busy * (1 - WEIGHT) + share * WEIGHT;
    const hot = this.#busy > this.#t.enterBusy || sample.lagMs > this.#t.enterLagMs;
    if (!this.#overloaded) {
      this.#overloaded = hot;
      this.#calmSince = undefined;
      return this.#overloaded;
    }
    const calm = this.#busy < this.#t.leaveBusy && sample.lagMs < this.#t.enterLagMs / 2;
    if (!calm) this.#calmSince = undefined;
    else {
      this.#calmSince ??= now;
      if (now - this.#calmSince >= this.#t.leaveAfterMs) this.#overloaded = false;
    }
    return this.#overloaded;
  }
}
