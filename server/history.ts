/**
 * Each sensor's recent readings, kept compactly in memory so a client can ask for the last
 * window, and whether the server held all of it (`complete`). Pure: no I/O, no timers; the
 * server clock is injected and readings age out lazily, on `add` and `query` of their sensor.
 * @module
 */

import { readingAt, type RingVisitor, SensorRing, type StoredReading } from "./history_ring.ts";

export type { StoredReading };

/** Options of {@link HistoryStore}. */
export interface HistoryOptions {
  /** Readings whose own time is older than now − `windowMs` are dropped, ms. */
  windowMs: number;
  /** Most readings kept per sensor; adding beyond drops the oldest. */
  maxPerSensor: number;
  /** Server clock, ms since the epoch. */
  now: () => number;
}

/** Which readings of a sensor {@link HistoryStore.query} returns. */
export interface HistoryQuery {
  /** Only readings whose `at` is strictly after this, ms. */
  since: number;
  /** At most this many, the most recent (default: all). */
  limit?: number;
  /** Only readings stored before this {@link HistoryStore.cursor} (default: all). */
  upTo?: number;
}

/** Memory held, for /metrics. */
export interface HistoryStats {
  /** Readings stored. */
  readings: number;
  /**
   * Bytes of the typed arrays: 40 a slot of capacity (not just the readings stored), plus 8 a
   * slot for sensors holding a reading that arrived out of order.
   */
  bytes: number;
  /** Sensors tracked (added to and not forgotten). */
  sensors: number;
}

/** Largest |ms| a Date holds; `toISOString` throws beyond it. */
const MAX_DATE_MS = 8.64e15;
const VALUES = ["moisture", "temperature", "humidity", "light"] as const;

/**
 * Recent readings per sensor in one growable Float64Array ring each (40 bytes a reading, no
 * object per reading), plus what `complete` needs: since when the MQTT link has been
 * continuous, what each sensor lost, and what unknown sensors may have lost.
 */
export class HistoryStore {
  readonly #windowMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #rings = new Map<string, SensorRing>();
  /** The subscription has been continuous since then; +Infinity while down or never up. */
  #continuousSince = Infinity;
  /** Newest time an unknown sensor may have lost a reading (refused, or forgotten). */
  #unknownUpTo = -Infinity;
  /** Readings ever stored; a new ring numbers from here so an old cursor never covers it. */
  #stored = 0;
  #readings = 0;
  #bytes = 0;

  /**
   * Throws `RangeError` for a window that is not a number ≥ 0 (0 keeps nothing older than now,
   * the server's "no history") or a cap that is not an integer ≥ 1.
   */
  constructor(options: HistoryOptions) {
    const { windowMs, maxPerSensor, now } = options;
    if (!(windowMs >= 0)) {
      throw new RangeError(`History windowMs must be a number >= 0, got ${windowMs}`);
    }
    if (!(Number.isSafeInteger(maxPerSensor) && maxPerSensor >= 1)) {
      throw new RangeError(`History maxPerSensor must be an integer >= 1, got ${maxPerSensor}`);
    }
    this.#windowMs = windowMs;
    this.#max = maxPerSensor;
    this.#now = now;
  }

  /** The MQTT subscription has been continuous since `at` (server ms); call on every connect. */
  linkUp(at: number): void {
    this.#continuousSince = checkTime("linkUp", at);
  }

  /** The MQTT link dropped at `at`; until {@link HistoryStore.linkUp}, nothing is complete. */
  linkDown(at: number): void {
    // Readings of windows ending before `at` were all received, but a reply is built when it is
    // sent, not when asked for, so it cannot tell: being down, nothing is complete.
    checkTime("linkDown", at);
    this.#continuousSince = Infinity;
  }

  /** A reading of a sensor unknown here was refused (the sensor cap) at `at` (server ms). */
  refused(at: number): void {
    this.#unknownUpTo = Math.max(this.#unknownUpTo, checkTime("refused", at));
  }

  /** Stores a reading; one older than the newest stored goes into its place (O(n), rare). */
  add(sensorId: string, reading: StoredReading): void {
    checkReading(sensorId, reading);
    let ring = this.#rings.get(sensorId);
    if (ring === undefined) {
      // A sensor new here may be the one refused, or one forgotten: it lost what they lost.
      ring = new SensorRing({ max: this.#max, next: this.#stored, evictedUpTo: this.#unknownUpTo });
      this.#rings.set(sensorId, ring);
      this.#bytes += ring.bytes;
    }
    const { size, bytes } = ring;
    const cutoff = this.#now() - this.#windowMs;
    ring.ageOut(cutoff);
    if (reading.at < cutoff) ring.lost(reading.at);
    else if (ring.insert(reading)) this.#stored++;
    this.#tally(ring, size, bytes);
  }

  /** Drops a sensor silent past its TTL; it is unknown from now on. */
  forget(sensorId: string): void {
    const ring = this.#rings.get(sensorId);
    if (ring === undefined) return;
    // What it held is lost to windows reaching back that far (longer than the TTL); a reading
    // stamped in the future by a wrong device clock must not spoil every unknown sensor.
    this.#unknownUpTo = Math.max(
      this.#unknownUpTo,
      Math.min(Math.max(ring.newest(), ring.evictedUpTo), this.#now()),
    );
    this.#readings -= ring.size;
    this.#bytes -= ring.bytes;
    this.#rings.delete(sensorId);
  }

  /**
   * Position meaning "everything stored so far" for {@link HistoryQuery.upTo}: readings stored
   * later (sent to the client live) are left out of a reply built later. Never decreases for a
   * sensor id, across forget and re-add too.
   */
  cursor(sensorId: string): number {
    return this.#rings.get(sensorId)?.next ?? this.#stored;
  }

  /**
   * The sensor's readings with `at` > `since`, oldest first, and whether the server held every
   * reading of it since `since` (not whether `limit` cut the reply short).
   */
  query(sensorId: string, options: HistoryQuery): { readings: StoredReading[]; complete: boolean } {
    const readings: StoredReading[] = [];
    const complete = this.#each(sensorId, options, (d, o) => readings.push(readingAt(d, o)));
    return { readings, complete };
  }

  /**
   * {@link query} serialized: `readings` is the JSON array of the protocol's history readings
   * (`timestamp` as ISO 8601), built as one string without an object per reading.
   */
  json(sensorId: string, options: HistoryQuery): { readings: string; complete: boolean } {
    let out = "";
    const iso = isoFormatter();
    const complete = this.#each(sensorId, options, (d, o) => {
      // A number in a template is the same shortest round-trip form as JSON.stringify gives.
      out += `${out === "" ? "[" : ","}{"moisture":${d[o + 1]},"temperature":${d[o + 2]},` +
        `"humidity":${d[o + 3]},"light":${d[o + 4]},"timestamp":"${iso(d[o]!)}"}`;
    });
    return { readings: out === "" ? "[]" : `${out}]`, complete };
  }

  /** Readings, bytes and sensors held; maintained as they change, so cheap. */
  stats(): HistoryStats {
    return { readings: this.#readings, bytes: this.#bytes, sensors: this.#rings.size };
  }

  /** Ids of the sensors tracked. */
  sensors(): IterableIterator<string> {
    return this.#rings.keys();
  }

  /** Calls `visit` with the array and offset of each reading selected; returns `complete`. */
  #each(sensorId: string, options: HistoryQuery, visit: RingVisitor): boolean {
    const { since, limit = Infinity, upTo = Infinity } = options;
    if (Number.isNaN(since) || Number.isNaN(upTo) || !(limit >= 0)) {
      throw new RangeError(
        `History query needs a number since, upTo and limit >= 0, got ${since}, ${upTo}, ${limit}`,
      );
    }
    const ring = this.#rings.get(sensorId);
    const linked = since >= this.#continuousSince;
    if (ring === undefined) return linked && since >= this.#unknownUpTo;
    const { size, bytes } = ring;
    ring.ageOut(this.#now() - this.#windowMs);
    this.#tally(ring, size, bytes);
    ring.select({ since, limit, upTo }, visit);
    return linked && since >= ring.evictedUpTo;
  }

  /** Moves the totals of {@link stats} by what `ring` changed since it had `size` and `bytes`. */
  #tally(ring: SensorRing, size: number, bytes: number): void {
    this.#readings += ring.size - size;
    this.#bytes += ring.bytes - bytes;
  }
}

/**
 * `(at) => new Date(at).toISOString()`, remembering the last minute formatted: V8 takes ~0.7 µs
 * a call, most of the time of a reply, and a sensor's readings share their minutes.
 */
function isoFormatter(): (at: number) => string {
  let minute = NaN;
  let prefix = ""; // "YYYY-MM-DDTHH:MM:" (or "+YYYYYY-…")
  return (at) => {
    const t = Math.trunc(at); // as Date does
    const m = Math.floor(t / 60_000);
    if (m !== minute) {
      const whole = new Date(m * 60_000).toISOString();
      prefix = whole.slice(0, -"00.000Z".length);
      minute = m;
    }
    const rest = t - m * 60_000; // 0 … 59_999, for times before 1970 too
    const s = Math.floor(rest / 1_000);
    const ms = rest - s * 1_000;
    return `${prefix}${s < 10 ? "0" : ""}${s}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`;
  };
}

function checkTime(what: string, at: number): number {
  if (!Number.isFinite(at)) throw new RangeError(`History ${what} needs a finite time, got ${at}`);
  return at;
}

function checkReading(sensorId: string, reading: StoredReading): void {
  if (!(Math.abs(reading.at) <= MAX_DATE_MS)) {
    throw new RangeError(`History reading of ${sensorId} has an invalid time: ${reading.at}`);
  }
  for (const key of VALUES) {
    // A NaN or Infinity would make `json` emit invalid JSON; the protocol schema refuses them.
    if (!Number.isFinite(reading[key])) {
      throw new RangeError(
        `History reading of ${sensorId} has a non-finite ${key}: ${
          reading[key]
        } (validate readings before storing them)`,
      );
    }
  }
}
