/**
 * When is the server overloaded? Fed once per hub tick, it estimates what share of the time
 * delivering every reading to every client would take (readings × clients, times the measured
 * CPU cost of one delivery), and decides with hysteresis, so the hub switches between exact
 * delivery (every reading to every client) and conflated delivery (the latest per sensor, in
 * fair rounds). Entering also needs the process to be busy: CPU spent on something else (a storm
 * of handshakes) inflates the cost estimate, and must not make a light load look overloaded. A
 * tick that ran late, or a burst of fan-out work between ticks, counts as overload at once.
 * Pure: no timers, no clock of its own.
 * @module
 */

/** Thresholds of {@link OverloadDetector}. */
export interface OverloadThresholds {
  /**
   * Overloaded when delivering everything would take more than this share of the time, and the
   * process used more than this share of a core.
   */
  enterShare: number;
  /** ...or when a tick runs this much late, ms (the event loop is saturated). */
  enterLagMs: number;
  /** ...or when fan-out work between two ticks exceeds this, ms (a burst). */
  burstMs: number;
  /** Back to exact delivery once everything would take less than this share... */
  leaveShare: number;
  /** ...without lag, for this long, ms. */
  leaveAfterMs: number;
}

/** Defaults: enter at 70 % or 250 ms of lag or a 100 ms burst; leave under 35 % for 3 s. */
export const OVERLOAD_DEFAULTS: OverloadThresholds = {
  enterShare: 0.7,
  enterLagMs: 250,
  burstMs: 100,
  leaveShare: 0.35,
  leaveAfterMs: 3_000,
};

/** One tick's measurements. */
export interface LoadSample {
  /** Time since the previous sample, ms. */
  elapsedMs: number;
  /** How late this sample's tick ran, ms. */
  lagMs: number;
  /** CPU time the process used since the previous sample, ms. */
  cpuMs: number;
  /** Messages handed to client sockets since the previous sample. */
  sends: number;
  /** Deliveries that exact delivery would have made: readings × clients that see them. */
  demand: number;
}

/** Smoothing of the share: the weight of the newest sample. */
const WEIGHT = 0.3;
/** CPU cost of one delivery before any has been measured, ms (10 µs: a small machine). */
const INITIAL_COST_MS = 0.01;
/** Fewest sends in a sample for it to update the cost estimate. */
const MIN_SENDS_FOR_COST = 100;

/** Decides overload from samples. */
export class OverloadDetector {
  readonly #t: OverloadThresholds;
  #share = 0;
  #costMs = INITIAL_COST_MS;
  #overloaded = false;
  #calmSince: number | undefined;

  /** A detector with the given thresholds ({@link OVERLOAD_DEFAULTS} otherwise). */
  constructor(thresholds: Partial<OverloadThresholds> = {}) {
    this.#t = { ...OVERLOAD_DEFAULTS, ...thresholds };
  }

  /** Whether the server is overloaded now. */
  get overloaded(): boolean {
    return this.#overloaded;
  }

  /** The smoothed share of time exact delivery would take, 0 and up (above 1: impossible). */
  get share(): number {
    return this.#share;
  }

  /** The estimated CPU cost of one delivery, ms. */
  get costMs(): number {
    return this.#costMs;
  }

  /** Fan-out work since the last sample reached `busyMs`: true when that is a burst (enters). */
  burst(busyMs: number): boolean {
    if (this.#overloaded || busyMs <= this.#t.burstMs) return false;
    this.#overloaded = true;
    this.#calmSince = undefined;
    return true;
  }

  /** Takes one sample at time `now` (ms); returns whether the server is overloaded now. */
  sample(now: number, s: LoadSample): boolean {
    if (s.sends >= MIN_SENDS_FOR_COST) {
      this.#costMs = this.#costMs * (1 - WEIGHT) + (s.cpuMs / s.sends) * WEIGHT;
    }
    const share = s.elapsedMs > 0 ? (s.demand * this.#costMs) / s.elapsedMs : 0;
    this.#share = this.#share * (1 - WEIGHT) + share * WEIGHT;
    // This tick's CPU, not smoothed: a saturated core must switch within one tick.
    const cpuShare = s.elapsedMs > 0 ? s.cpuMs / s.elapsedMs : 0;
    const busy = this.#share > this.#t.enterShare && cpuShare > this.#t.enterShare;
    const hot = busy || s.lagMs > this.#t.enterLagMs;
    if (!this.#overloaded) {
      this.#overloaded = hot;
      this.#calmSince = undefined;
      return this.#overloaded;
    }
    const calm = this.#share < this.#t.leaveShare && s.lagMs < this.#t.enterLagMs / 2;
    if (!calm) this.#calmSince = undefined;
    else {
      this.#calmSince ??= now;
      if (now - this.#calmSince >= this.#t.leaveAfterMs) this.#overloaded = false;
    }
    return this.#overloaded;
  }
}
