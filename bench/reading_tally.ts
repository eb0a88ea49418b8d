/**
 * What the overload bench's clients received, kept in typed arrays so recording one reading is a
 * few array writes: count per client, age histogram, which sensors each client last saw at their
 * final value, and readings per client, sensor and second of publishing. Pure: the receive time
 * is passed in.
 * @module
 */

/** Ages are binned by the millisecond up to this; older ones land in the last bin. */
export const MAX_AGE_MS = 120_000;

/** The tally's answer to "did every client end on the last value of every sensor?". */
export interface FinalCheck {
  /** Clients whose last reading of every sensor was that sensor's final one. */
  endedOnLast: number;
  /** Clients that connected. */
  clients: number;
  /** Among those, the latest moment (ms since the epoch) one reached its final values. */
  lastReachedAt: number | null;
}

/** Summary of a run, as the clients process prints it. */
export interface TallySummary {
  clients: number;
  delivered: number;
  /** Received while publishing (`start` .. `start + duration`). */
  deliveredDuringPublish: number;
  perClient: { min: number; median: number; max: number };
  ageMs: { p50: number; p99: number; max: number };
  /** Fewest readings one client got of one sensor in one second of publishing. */
  worstSensorSecond: number;
  /** Client x sensor x second cells of publishing with no reading, and clients with one. */
  emptySensorSeconds: number;
  clientsWithEmptySecond: number;
  /** Lowest per-client, per-sensor average over the publishing seconds, readings/s. */
  lowestSensorRate: number;
}

/** Readings received by `clients` clients of `sensors` sensors. */
export class Tally {
  readonly #n: number;
  readonly #sensors: number;
  readonly #counts: Uint32Array;
  readonly #ready: Uint8Array;
  readonly #final: Uint8Array;
  readonly #finalCount: Uint16Array;
  readonly #allFinalAt: Float64Array;
  readonly #ages = new Uint32Array(MAX_AGE_MS + 1);
  #windows: Uint16Array | null = null;
  #start = 0;
  #seconds = 0;
  #during = 0;

  /** A tally for `clients` clients and sensors `0 .. sensors - 1`. */
  constructor(clients: number, sensors: number) {
    this.#n = clients;
    this.#sensors = sensors;
    this.#counts = new Uint32Array(clients);
    this.#ready = new Uint8Array(clients);
    this.#final = new Uint8Array(clients * sensors);
    this.#finalCount = new Uint16Array(clients);
    this.#allFinalAt = new Float64Array(clients);
  }

  /** Client `i` is connected (it got its first message). */
  markReady(i: number): void {
    this.#ready[i] = 1;
  }

  /** Publishing runs from `at` (ms since the epoch) for `seconds`: per-second counts start. */
  start(at: number, seconds: number): void {
    this.#start = at;
    this.#seconds = seconds;
    this.#windows = new Uint16Array(this.#n * this.#sensors * seconds);
  }

  /** Client `i` received a reading of `sensor` published at `sentAt`, at `now`. */
  record(i: number, sensor: number, final: boolean, sentAt: number, now: number): void {
    if (sensor < 0 || sensor >= this.#sensors) return;
    this.#counts[i]!++;
    const age = now - sentAt;
    this.#ages[age > 0 ? Math.min(MAX_AGE_MS, Math.round(age)) : 0]!++;
    const cell = i * this.#sensors + sensor;
    const was = this.#final[cell]!;
    const is = final ? 1 : 0;
    if (was !== is) {
      this.#final[cell] = is;
      this.#finalCount[i]! += is - was;
      this.#allFinalAt[i] = this.#finalCount[i] === this.#sensors ? now : 0;
    }
    const second = Math.floor((now - this.#start) / 1000);
    if (this.#windows && second >= 0 && second < this.#seconds) {
      this.#during++;
      const w = cell * this.#seconds + second;
      if (this.#windows[w]! < 0xffff) this.#windows[w]!++;
    }
  }

  /** How many connected clients have, as their last reading of every sensor, its final one. */
  check(): FinalCheck {
    let endedOnLast = 0;
    let clients = 0;
    let lastReachedAt: number | null = null;
    for (let i = 0; i < this.#n; i++) {
      if (!this.#ready[i]) continue;
      clients++;
      if (this.#finalCount[i] !== this.#sensors) continue;
      endedOnLast++;
      lastReachedAt = Math.max(lastReachedAt ?? 0, this.#allFinalAt[i]!);
    }
    return { endedOnLast, clients, lastReachedAt };
  }

  /** The run's figures over the connected clients. */
  summary(): TallySummary {
    const counts = [...this.#counts].filter((_, i) => this.#ready[i]).sort((a, b) => a - b);
    const delivered = counts.reduce((a, b) => a + b, 0);
    return {
      clients: counts.length,
      delivered,
      deliveredDuringPublish: this.#during,
      perClient: {
        min: counts[0] ?? 0,
        median: counts[Math.floor(counts.length / 2)] ?? 0,
        max: counts[counts.length - 1] ?? 0,
      },
      ageMs: {
        p50: binPercentile(this.#ages, 0.5),
        p99: binPercentile(this.#ages, 0.99),
        max: binPercentile(this.#ages, 1),
      },
      ...this.#sensorSeconds(),
    };
  }

  #sensorSeconds() {
    const out = {
      worstSensorSecond: Infinity,
      emptySensorSeconds: 0,
      clientsWithEmptySecond: 0,
      lowestSensorRate: Infinity,
    };
    const w = this.#windows;
    const s = this.#seconds;
    if (!w || s === 0) return { ...out, worstSensorSecond: NaN, lowestSensorRate: NaN };
    for (let i = 0; i < this.#n; i++) {
      if (!this.#ready[i]) continue;
      let empty = 0;
      for (let cell = i * this.#sensors; cell < (i + 1) * this.#sensors; cell++) {
        let sum = 0;
        for (let k = cell * s; k < (cell + 1) * s; k++) {
          const c = w[k]!;
          sum += c;
          if (c === 0) empty++;
          if (c < out.worstSensorSecond) out.worstSensorSecond = c;
        }
        out.lowestSensorRate = Math.min(out.lowestSensorRate, sum / s);
      }
      out.emptySensorSeconds += empty;
      if (empty > 0) out.clientsWithEmptySecond++;
    }
    return out;
  }
}

/** The smallest bin index at or below which a share `p` of the counts lies (NaN when empty). */
export function binPercentile(bins: ArrayLike<number>, p: number): number {
  let total = 0;
  for (let b = 0; b < bins.length; b++) total += bins[b]!;
  if (total === 0) return NaN;
  const target = Math.max(1, Math.ceil(total * p));
  let seen = 0;
  for (let b = 0; b < bins.length; b++) {
    seen += bins[b]!;
    if (seen >= target) return b;
  }
  return bins.length - 1;
}
