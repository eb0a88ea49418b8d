/**
 * The seeded stream of payloads: which sensor message k is for, the model time and timestamp
 * it carries, and whether it is deliberately malformed. Pure, so the same seed and start
 * replay the same payloads.
 * @module
 */
import { type Valves, wetted } from "./irrigation.ts";
import { createRandom } from "./random.ts";
import {
  initialState,
  invalidPayload,
  nextReading,
  readingPayload,
  type SensorState,
} from "./sensors.ts";

/** Model time of the first reading when only a seed is given: 06:00 UTC, sunrise. */
export const REPLAY_START: number = Date.UTC(2024, 5, 1, 6);

/** One message to publish. */
export interface SimMessage {
  /** The sensor it is from (and the topic level it goes to). */
  sensorId: string;
  /** The MQTT payload, JSON unless it is invalid on purpose. */
  payload: string;
  /** Deliberately malformed. */
  invalid: boolean;
  /** Its timestamp, ms since the epoch. */
  stamp: number;
}

/** Where the model's clock and the timestamps start, ms since the epoch. */
export interface ClockStarts {
  /** Model time of the first reading (time of day and season drive the values). */
  modelMs: number;
  /** Timestamp of the first reading. */
  stampMs: number;
}

/**
 * Both start at `startTime` when given. Otherwise timestamps follow real time, and the model
 * starts at a fixed morning when the run is `seeded` (so the same seed gives the same values
 * whenever it runs), else now.
 */
export function clockStarts(
  startTime: number | undefined,
  options: { seeded: boolean; nowMs: number },
): ClockStarts {
  if (startTime !== undefined) return { modelMs: startTime, stampMs: startTime };
  return { modelMs: options.seeded ? REPLAY_START : options.nowMs, stampMs: options.nowMs };
}

/** Options of {@link PayloadSource}. */
export interface PayloadOptions {
  /** Sensor ids; messages go to them round-robin. */
  sensors: readonly string[];
  /** PRNG seed; the same seed gives the same payloads. */
  seed: number;
  /** Share of malformed payloads, 0–1. */
  invalidRatio: number;
  /** Simulated time runs this many times faster than real time. */
  timeScale: number;
  /** Where the model's clock and the timestamps start. */
  starts: ClockStarts;
  /** The stations' valves: water they give goes into the soil before each reading. */
  valves?: Valves | undefined;
}

/** The payloads of one run, message after message. */
export class PayloadSource {
  readonly #o: PayloadOptions;
  readonly #random: () => number;
  readonly #states = new Map<string, SensorState>();

  /** Seeds the generator and every sensor's starting state. */
  constructor(options: PayloadOptions) {
    this.#o = options;
    this.#random = createRandom(options.seed);
    for (const id of options.sensors) {
      this.#states.set(id, initialState(id, this.#random, options.starts.modelMs));
    }
  }

  /** Message `k`, standing for `elapsedMs` of real time since the start. Call in order of k. */
  next(k: number, elapsedMs: number): SimMessage {
    const { sensors, timeScale, starts, invalidRatio } = this.#o;
    const random = this.#random;
    const sensorId = sensors[k % sensors.length]!;
    this.#irrigate(sensorId, elapsedMs);
    const elapsed = elapsedMs * timeScale;
    const stamp = starts.stampMs + elapsed;
    if (random() < invalidRatio) {
      return { sensorId, payload: invalidPayload(random, sensorId, stamp), invalid: true, stamp };
    }
    const reading = nextReading(this.#states.get(sensorId)!, starts.modelMs + elapsed, random);
    this.#states.set(sensorId, reading.state);
    return {
      sensorId,
      payload: readingPayload(sensorId, stamp, reading.values),
      invalid: false,
      stamp,
    };
  }

  /**
   * True soil moisture of `sensorId` (before sensor noise), percent: as of its latest reading,
   * plus what its valve gave up to `elapsedMs`. `NaN` for a sensor not in the run.
   */
  moisture(sensorId: string, elapsedMs: number): number {
    return this.#irrigate(sensorId, elapsedMs)?.moisture ?? NaN;
  }

  /** Puts the water `sensorId`'s valve gave up to `elapsedMs` into its soil. */
  #irrigate(sensorId: string, elapsedMs: number): SensorState | undefined {
    const state = this.#states.get(sensorId);
    const water = this.#o.valves?.water(sensorId, elapsedMs) ?? 0;
    if (!state || water === 0) return state;
    const wet = { ...state, moisture: wetted(state.moisture, water) };
    this.#states.set(sensorId, wet);
    return wet;
  }
}
