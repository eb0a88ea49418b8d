// @ts-check
/**
 * The dashboard's model, pure (no DOM, no socket, time passed in): every sensor's newest values
 * and status, and its readings of the chart window, kept sorted and unique per (sensor, time) so
 * live readings, the connect snapshot and `history` replies merge without duplicates or holes.
 * @module
 */
import { SENSOR_ID_PATTERN } from "./protocol.js";

/** @typedef {"moisture" | "temperature" | "humidity" | "light"} Quantity */
/** @typedef {Record<Quantity, number>} Values */
/** @typedef {"live" | "stale"} SensorStatus */

/** The four measured quantities, in display order. */
export const QUANTITIES = /** @type {const} */ (["moisture", "temperature", "humidity", "light"]);

/** How each quantity is labelled and its unit. */
export const LABELS = /** @type {const} */ ({
  moisture: { label: "Moisture", unit: "%" },
  temperature: { label: "Temperature", unit: "°C" },
  humidity: { label: "Humidity", unit: "%" },
  light: { label: "Light", unit: "lx" },
});

/** Default chart window, ms: what the charts show and what history fills on load. */
export const WINDOW_MS = 15 * 60_000;
/** Default cap of readings kept per sensor (a sensor at 4/s fills 15 minutes). */
export const MAX_POINTS = 3_600;

/**
 * One sensor as the model holds it.
 * @typedef {object} Sensor
 * @property {string} id
 * @property {Values | undefined} latest Values of its newest reading.
 * @property {number} latestMs Time of its newest reading, ms (NaN: none yet).
 * @property {string} latestIso That time as the server wrote it (where a resume starts).
 * @property {SensorStatus} status From `sensor_status`; live until told otherwise.
 * @property {number[]} times Reading times in the window, ascending, unique.
 * @property {Record<Quantity, number[]>} values Per quantity, parallel to `times`.
 */

/**
 * True when `v` is an object holding the four values as finite numbers.
 * @param {unknown} v @returns {v is Values}
 */
export function isValues(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return QUANTITIES.every((q) => typeof o[q] === "number" && Number.isFinite(o[q]));
}

/** True when `id` is a valid sensor id. @param {unknown} id @returns {id is string} */
export function isId(id) {
  return typeof id === "string" && SENSOR_ID_PATTERN.test(id);
}

/**
 * One collator for every comparison: `localeCompare` with options builds one per call, which made
 * sorting the ids the page's hottest function.
 */
const COLLATOR = new Intl.Collator("en", { numeric: true });

/** Sorts sensor ids the way people count: V2 before V10. */
export function compareIds(/** @type {string} */ a, /** @type {string} */ b) {
  return COLLATOR.compare(a, b);
}

/** The sensors, their newest values and their readings in the chart window. */
export class Model {
  /** @type {Map<string, Sensor>} */
  #sensors = new Map();
  /** @type {Set<string>} */
  #changed = new Set();
  /** The ids, sorted; undefined until asked for after a sensor came. */
  /** @type {readonly string[] | undefined} */
  #ids;
  #offsetMs = 0;
  #version = 0;
  #windowMs;
  #maxPoints;

  /** @param {{ windowMs?: number, maxPoints?: number }} [options] */
  constructor(options = {}) {
    this.#windowMs = options.windowMs ?? WINDOW_MS;
    this.#maxPoints = options.maxPoints ?? MAX_POINTS;
  }

  /** The chart window, ms. */
  get windowMs() {
    return this.#windowMs;
  }

  /** Grows whenever a series changes: charts redraw only then (or when time moves on). */
  get version() {
    return this.#version;
  }

  /**
   * Notes the server's clock from a message it stamped now (not a reading: a reading carries its
   * own time), so ages and the chart window follow the server's time, not a skewed local clock.
   * @param {string} iso @param {number} localNow
   */
  observeServerTime(iso, localNow) {
    const at = Date.parse(iso);
    if (Number.isFinite(at)) this.#offsetMs = at - localNow;
  }

  /** The server's time now, ms, estimated from the local clock. */
  serverNow(/** @type {number} */ localNow) {
    return localNow + this.#offsetMs;
  }

  /**
   * Known sensor ids, sorted. The same (frozen) array until a sensor is added, so callers can tell
   * whether the list changed by comparing it with the last one they saw.
   * @returns {readonly string[]}
   */
  ids() {
    this.#ids ??= Object.freeze([...this.#sensors.keys()].sort(compareIds));
    return this.#ids;
  }

  /** @param {string} id @returns {Readonly<Sensor> | undefined} */
  sensor(id) {
    return this.#sensors.get(id);
  }

  /**
   * Takes a reading (live, snapshot or history). False when it was held already (same sensor and
   * time) or is not valid.
   * @param {string} id @param {unknown} values @param {string} iso
   */
  addReading(id, values, iso) {
    const at = Date.parse(iso);
    if (!isId(id) || !isValues(values) || !Number.isFinite(at)) return false;
    const v = /** @type {Values} */ (values);
    const s = this.#sensorOf(id);
    if (!insert(s, at, v)) return false;
    if (s.times.length > this.#maxPoints) dropFirst(s, s.times.length - this.#maxPoints);
    if (!(at < s.latestMs)) {
      s.latest = {
        moisture: v.moisture,
        temperature: v.temperature,
        humidity: v.humidity,
        light: v.light,
      };
      s.latestMs = at;
      s.latestIso = iso;
      this.#changed.add(id);
    }
    this.#version++;
    return true;
  }

  /**
   * Takes a `history` reply's readings; returns how many were new.
   * @param {string} id @param {unknown} readings
   */
  addHistory(id, readings) {
    if (!Array.isArray(readings)) return 0;
    let added = 0;
    for (const r of readings) {
      if (typeof r === "object" && r !== null && this.addReading(id, r, String(r.timestamp))) {
        added++;
      }
    }
    return added;
  }

  /** @param {string} id @param {unknown} status */
  setStatus(id, status) {
    if (!isId(id) || (status !== "live" && status !== "stale")) return;
    const s = this.#sensorOf(id);
    if (s.status !== status) this.#changed.add(id);
    s.status = status;
  }

  /**
   * A new connection: every sensor is live until the server says otherwise (it sends the status of
   * each stale one right after the connect snapshot).
   */
  markAllLive() {
    for (const id of this.#sensors.keys()) this.setStatus(id, "live");
  }

  /** Sensors whose tile changed since the last call (values or status). */
  takeChanged() {
    const changed = this.#changed;
    this.#changed = new Set();
    return changed;
  }

  /**
   * A copy of one sensor's series of one quantity: [time ms, value] pairs, oldest first.
   * @param {Quantity} quantity @param {string} id @returns {Array<[number, number]>}
   */
  series(quantity, id) {
    const s = this.#sensors.get(id);
    if (!s || !s.values[quantity]) return [];
    const values = s.values[quantity];
    return s.times.map((t, i) => [t, /** @type {number} */ (values[i])]);
  }

  /** Forgets readings older than the window before `serverNow`. */
  prune(/** @type {number} */ serverNow) {
    const from = serverNow - this.#windowMs;
    for (const s of this.#sensors.values()) {
      let n = 0;
      while (n < s.times.length && /** @type {number} */ (s.times[n]) < from) n++;
      if (n > 0) {
        dropFirst(s, n);
        this.#version++;
      }
    }
  }

  /**
   * Where each sensor's history resumes after a reconnect: the time of its newest reading as the
   * server wrote it, or the whole window (relative) when it has none in the window.
   * @param {Iterable<string>} ids @param {number} serverNow @returns {Record<string, string>}
   */
  resumePoints(ids, serverNow) {
    /** @type {Array<[string, string]>} */
    const points = [];
    for (const id of ids) {
      const s = this.#sensors.get(id);
      const fresh = s && s.latestMs >= serverNow - this.#windowMs;
      points.push([id, fresh ? s.latestIso : relativeWindow(this.#windowMs)]);
    }
    // fromEntries, not assignment: an id may be `__proto__`.
    return Object.fromEntries(points);
  }

  /** @param {string} id */
  #sensorOf(id) {
    let s = this.#sensors.get(id);
    if (!s) {
      s = {
        id,
        latest: undefined,
        latestMs: NaN,
        latestIso: "",
        status: "live",
        times: [],
        values: { moisture: [], temperature: [], humidity: [], light: [] },
      };
      this.#sensors.set(id, s);
      this.#ids = undefined;
      this.#changed.add(id);
    }
    return s;
  }
}

/** The chart window as a relative `history` time: `-900s`. */
export function relativeWindow(/** @type {number} */ windowMs) {
  return `-${Math.ceil(windowMs / 1000)}s`;
}

/**
 * Inserts a reading in time order; false when one with the same time is held already.
 * @param {Sensor} s @param {number} at @param {Values} v
 */
function insert(s, at, v) {
  const { times } = s;
  let i = times.length;
  // Readings come in order almost always: search from the end.
  if (i > 0 && /** @type {number} */ (times[i - 1]) >= at) {
    let lo = 0;
    let hi = i;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (/** @type {number} */ (times[mid]) < at) lo = mid + 1;
      else hi = mid;
    }
    if (times[lo] === at) return false;
    i = lo;
  }
  times.splice(i, 0, at);
  for (const q of QUANTITIES) s.values[q].splice(i, 0, v[q]);
  return true;
}

/** @param {Sensor} s @param {number} n */
function dropFirst(s, n) {
  s.times.splice(0, n);
  for (const q of QUANTITIES) s.values[q].splice(0, n);
}

/**
 * A reading's age in words, as a tile shows it: `4 s`, `3 min`, `2 h 5 min`, `3 d`.
 * @param {number} ms
 */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}
