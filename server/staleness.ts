/**
 * Which sensors are stale: silent for longer than their own rhythm allows. Each sensor's usual
 * interval is learned from its recent readings, and one {@link Deadlines} timer watches them all.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import { Deadlines } from "../lib/deadlines.ts";

/** Whether a sensor's readings are arriving (`live`) or have stopped (`stale`). */
export type SensorStatus = "live" | "stale";

/** Options of {@link Staleness}. */
export interface StalenessOptions {
  /** Least silence before a sensor is stale, ms (--stale-after). */
  staleAfterMs: number;
  clock: Clock;
  /**
   * Called on every change, after the state changed. lastSeen = server time of its last
   * reading, ms. Should not throw: a throw from a sensor going stale reaches the timer.
   */
  onChange(sensorId: string, status: SensorStatus, lastSeen: number): void;
}

/** Intervals remembered per sensor: a median over 15 shrugs off up to 7 odd ones. */
const RING_SIZE = 15;
/** Silence, in usual intervals, before a sensor is stale. */
const FACTOR = 3;

/** One sensor's state; also its item in the deadlines heap. */
interface Sensor {
  readonly id: string;
  /** Clock time of its latest reading, ms. */
  lastSeen: number;
  /** Clock time of its latest counted arrival, which intervals are measured from, ms. */
  arrivedAt: number;
  stale: boolean;
  /** Whether its latest counted arrival ended a stale period. */
  cameBack: boolean;
  /** Recent intervals, ms: grows to RING_SIZE (a one-reading sensor holds none), then wraps. */
  readonly intervals: number[];
  /** Slot of `intervals` the next one overwrites once it is full. */
  next: number;
  /** Silence before it is stale, ms; recomputed when `intervals` changes. */
  thresholdMs: number;
}

/**
 * Live/stale status of every sensor the server knows. A sensor is stale once silent for its
 * threshold: `max(staleAfterMs, 3 × median of its last 15 intervals)`, the lower median when the
 * count is even.
 *
 * - A new sensor is presumed to publish every `staleAfterMs`, so its threshold is
 *   `3 × staleAfterMs` until it has an interval: a sensor that published once and died is marked,
 *   and one slower than that is wrongly stale once, then knows its rhythm (below).
 * - Readings less than `staleAfterMs / 6` after the last counted arrival are part of it (a burst,
 *   or a backlog flushed on reconnect) and add no interval, so bursts cannot pull the median to 0.
 *   Nothing is lost: a sensor that fast has its threshold at the floor either way (3 × such
 *   intervals is under `staleAfterMs`), while one at least that slow has every interval counted.
 * - The gap that ended a stale period is an outage, not the rhythm, and is left out, except when
 *   the sensor has no interval yet (it is all there is) or its previous arrival ended one too (it
 *   slowed down, and such gaps are its rhythm now, learned once they are most of its last 15).
 *
 * `onChange` is called only on live↔stale changes: a new sensor starts live, unannounced, and a
 * forgotten one just disappears.
 */
export class Staleness {
  readonly #staleAfterMs: number;
  readonly #burstMs: number;
  readonly #clock: Clock;
  readonly #onChange: StalenessOptions["onChange"];
  readonly #sensors = new Map<string, Sensor>();
  /** Stale sensors in the order they went stale: the connect snapshot walks only these. */
  readonly #stale = new Set<Sensor>();
  readonly #deadlines: Deadlines<Sensor>;
  #closed = false;

  /** Tracks nothing yet; throws `RangeError` unless `staleAfterMs` is a finite number > 0. */
  constructor(options: StalenessOptions) {
    const { staleAfterMs } = options;
    if (!Number.isFinite(staleAfterMs) || staleAfterMs <= 0) {
      throw new RangeError(
        `Staleness staleAfterMs must be a finite number of ms > 0, got ${staleAfterMs}`,
      );
    }
    this.#staleAfterMs = staleAfterMs;
    this.#burstMs = staleAfterMs / (2 * FACTOR);
    this.#clock = options.clock;
    this.#onChange = options.onChange;
    this.#deadlines = new Deadlines(options.clock, (sensor) => this.#goStale(sensor));
  }

  /**
   * A live reading of `sensorId` was received now (clock.now()). A stale sensor turns live
   * (onChange before returning, so the server can send the status before the reading).
   * Ignored after {@link Staleness.close}.
   */
  seen(sensorId: string): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    const sensor = this.#sensors.get(sensorId);
    if (sensor === undefined) {
      const thresholdMs = FACTOR * this.#staleAfterMs;
      const fresh: Sensor = {
        id: sensorId,
        lastSeen: now,
        arrivedAt: now,
        stale: false,
        cameBack: false,
        intervals: [],
        next: 0,
        thresholdMs,
      };
      this.#sensors.set(sensorId, fresh);
      this.#deadlines.set(fresh, now + thresholdMs);
      return;
    }
    const wasStale = sensor.stale;
    const gap = now - sensor.arrivedAt;
    // Also false when the clock stepped back: a negative interval would be nonsense.
    if (gap >= this.#burstMs) {
      if (!wasStale || sensor.cameBack || sensor.intervals.length === 0) {
        this.#record(sensor, gap);
      }
      sensor.cameBack = wasStale;
      sensor.arrivedAt = now;
    }
    sensor.lastSeen = now;
    this.#deadlines.set(sensor, now + sensor.thresholdMs);
    if (wasStale) {
      sensor.stale = false;
      this.#stale.delete(sensor);
      this.#onChange(sensorId, "live", now);
    }
  }

  /** The sensor's status; undefined for an unknown (or forgotten) sensor. */
  status(sensorId: string): SensorStatus | undefined {
    const sensor = this.#sensors.get(sensorId);
    return sensor === undefined ? undefined : sensor.stale ? "stale" : "live";
  }

  /** Clock time of the sensor's last reading, ms; undefined for an unknown sensor. */
  lastSeen(sensorId: string): number | undefined {
    return this.#sensors.get(sensorId)?.lastSeen;
  }

  /** Every stale sensor with its last-seen time, in the order they went stale. */
  *stale(): IterableIterator<[sensorId: string, lastSeen: number]> {
    for (const sensor of this.#stale) yield [sensor.id, sensor.lastSeen];
  }

  /** How many known sensors are live and stale (for the `sensorstream_sensors` gauge). O(1). */
  counts(): { live: number; stale: number } {
    const stale = this.#stale.size;
    return { live: this.#sensors.size - stale, stale };
  }

  /** How long silence must last before `sensorId` is stale now, ms (for logs/tests). */
  threshold(sensorId: string): number | undefined {
    return this.#sensors.get(sensorId)?.thresholdMs;
  }

  /** The server forgot the sensor (silent past its TTL): no status, no timer, no onChange. */
  forget(sensorId: string): void {
    const sensor = this.#sensors.get(sensorId);
    if (sensor === undefined) return;
    this.#sensors.delete(sensorId);
    this.#stale.delete(sensor);
    this.#deadlines.delete(sensor);
  }

  /** Cancels the timer; statuses stay readable, and later readings are ignored. */
  close(): void {
    this.#closed = true;
    for (const sensor of this.#sensors.values()) this.#deadlines.delete(sensor);
  }

  #goStale(sensor: Sensor): void {
    sensor.stale = true;
    this.#stale.add(sensor);
    this.#onChange(sensor.id, "stale", sensor.lastSeen);
  }

  #record(sensor: Sensor, interval: number): void {
    const { intervals } = sensor;
    if (intervals.length < RING_SIZE) {
      intervals.push(interval);
    } else {
      intervals[sensor.next] = interval;
      sensor.next = (sensor.next + 1) % RING_SIZE;
    }
    sensor.thresholdMs = Math.max(this.#staleAfterMs, FACTOR * lowerMedian(intervals));
  }
}

/** Reused by every {@link lowerMedian}, so a reading allocates nothing. */
const scratch = new Float64Array(RING_SIZE);

/**
 * The lower median of 1 to {@link RING_SIZE} values. Lower rather than the mean of the middle
 * two, so a new sensor's second interval outvotes a long first one (say, the gap that ended its
 * first stale period) instead of averaging with it.
 */
function lowerMedian(values: readonly number[]): number {
  const n = values.length;
  // Insertion sort: fastest for 15 values, and in place.
  for (let i = 0; i < n; i++) {
    const value = values[i]!;
    let j = i;
    for (; j > 0 && scratch[j - 1]! > value; j--) scratch[j] = scratch[j - 1]!;
    scratch[j] = value;
  }
  return scratch[(n - 1) >> 1]!;
}
