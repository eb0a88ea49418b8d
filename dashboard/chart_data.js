// @ts-check
/**
 * The charts' data, pure: uPlot wants one x array shared by every series, so each sensor's
 * readings are placed on a common grid of columns about a pixel wide (~1.7 s each for 15 minutes
 * over ~530 px). A column holds one value per sensor: drawing more than a pixel can show only
 * costs time. A column where a sensor has no reading holds `undefined`, which uPlot draws
 * through; the columns of a silence much longer than the sensor's usual interval hold `null`,
 * which uPlot draws as a gap, so an outage shows as one.
 *
 * The model keeps every reading; only what is handed to uPlot is reduced.
 * @module
 */

import { QUANTITIES } from "./state.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./state.js").Quantity} Quantity */
/** @typedef {Array<number | null | undefined>} Column */
/** @typedef {[number[], ...Column[]]} AlignedData */

/** How far past now a reading is still drawn, ms (a sensor's clock may run ahead). */
const FUTURE_MS = 60_000;
/** Shortest silence drawn as a gap, ms. */
export const MIN_GAP_MS = 10_000;
/** Column widths are rounded up to this, ms, so a few pixels more or less keep the grid. */
const COLUMN_STEP_MS = 100;

/**
 * Silence after which a sensor's line breaks: 3x its usual interval (the median of its last 16),
 * at least {@link MIN_GAP_MS}.
 * @param {readonly number[]} times
 */
export function gapAfter(times) {
  const n = times.length;
  const steps = [];
  for (let i = Math.max(1, n - 16); i < n; i++) {
    steps.push(/** @type {number} */ (times[i]) - /** @type {number} */ (times[i - 1]));
  }
  steps.sort((a, b) => a - b);
  const median = steps.length > 0 ? /** @type {number} */ (steps[steps.length >> 1]) : 0;
  return Math.max(MIN_GAP_MS, 3 * median);
}

/**
 * The width of a column, ms, for `windowMs` over `pixels`: at least a pixel, rounded up to a
 * step so the grid stays put while the plot's width wobbles by a pixel or two.
 * @param {number} windowMs @param {number} pixels
 */
export function columnMs(windowMs, pixels) {
  const ms = windowMs / Math.max(1, Math.floor(pixels));
  return Math.max(COLUMN_STEP_MS, Math.ceil(ms / COLUMN_STEP_MS) * COLUMN_STEP_MS);
}

/**
 * The four charts' data on one grid of columns, kept between draws: as time moves on, columns
 * are appended and the oldest dropped instead of building the grid anew, and each sensor's
 * arrays are refilled in place.
 */
export class ChartGrid {
  /** Column times, s (uPlot's time unit), ascending; shared by every chart. @type {number[]} */
  #xs = [];
  /** Column number (time / width) of `#xs[0]`. */
  #first = 0;
  #widthMs = 0;
  /** Per sensor, per quantity, its column values. @type {Map<string, Record<Quantity, Column>>} */
  #ys = new Map();
  /** Per sensor, how many columns hold a value of it. @type {Map<string, number>} */
  #counts = new Map();

  /** How many columns hold a value of sensor `id` (the same for every quantity). */
  count(/** @type {string} */ id) {
    return this.#counts.get(id) ?? 0;
  }

  /**
   * The four charts' data: x in seconds on one grid, then per quantity one array per sensor in
   * `ids` order. Readings before `from` or well after `to` (a sensor whose clock runs ahead) are
   * left out. The arrays are this grid's own, valid until the next call.
   * @param {Model} model @param {readonly string[]} ids
   * @param {{ from: number, to: number, widthMs: number }} grid Times in ms.
   * @returns {Record<Quantity, AlignedData>}
   */
  update(model, ids, grid) {
    const xs = this.#moveTo(grid);
    /** @type {Record<Quantity, Column[]>} */
    const out = { moisture: [], temperature: [], humidity: [], light: [] };
    const kept = new Set(ids);
    for (const id of this.#ys.keys()) if (!kept.has(id)) this.#ys.delete(id);
    this.#counts.clear();
    for (const id of ids) {
      let ys = this.#ys.get(id);
      if (!ys) {
        ys = { moisture: [], temperature: [], humidity: [], light: [] };
        this.#ys.set(id, ys);
      }
      const s = model.sensor(id);
      for (const q of QUANTITIES) {
        const column = ys[q];
        column.length = xs.length;
        column.fill(undefined);
        const count = s ? this.#place(s.times, s.values[q], column) : 0;
        this.#counts.set(id, count);
        out[q].push(column);
      }
    }
    return /** @type {Record<Quantity, AlignedData>} */ (Object.fromEntries(
      QUANTITIES.map((q) => [q, [xs, ...out[q]]]),
    ));
  }

  /**
   * Moves the grid to cover `from` … `to` + {@link FUTURE_MS}: drops the columns before, appends
   * the new ones; starts anew when the column width changed or time went back.
   * @param {{ from: number, to: number, widthMs: number }} grid
   */
  #moveTo({ from, to, widthMs }) {
    const xs = this.#xs;
    const first = Math.floor(from / widthMs);
    const last = Math.floor((to + FUTURE_MS) / widthMs);
    if (widthMs !== this.#widthMs || first < this.#first) {
      this.#widthMs = widthMs;
      this.#first = first;
      xs.length = 0;
    }
    const drop = Math.min(first - this.#first, xs.length);
    if (drop > 0) xs.splice(0, drop);
    this.#first = first;
    const size = Math.max(0, last - first + 1);
    if (xs.length > size) xs.length = size;
    for (let c = first + xs.length; c <= last; c++) xs.push((c * widthMs) / 1000);
    return xs;
  }

  /**
   * Puts one sensor's values of one quantity in their columns. Where a column has several, the
   * one farthest from the column before wins, so a short spike still shows. Returns how many
   * columns got a value.
   * @param {readonly number[]} times @param {readonly number[]} values @param {Column} column
   */
  #place(times, values, column) {
    const size = column.length;
    const first = this.#first;
    const widthMs = this.#widthMs;
    const gap = gapAfter(times);
    let i = lowerBound(times, first * widthMs);
    let prev = NaN;
    let at = -1;
    /** @type {number | undefined} */
    let before;
    let chosen = 0;
    let count = 0;
    for (; i < times.length; i++) {
      const t = /** @type {number} */ (times[i]);
      const c = Math.floor(t / widthMs) - first;
      if (c >= size) break;
      const v = /** @type {number} */ (values[i]);
      if (c !== at) {
        if (at >= 0) column[at] = before = chosen;
        // A silence: its columns are gaps, so no line crosses it (uPlot breaks a line only over
        // a run of nulls, from the column before it to the one after).
        if (t - prev > gap) {
          for (let k = at + 1; k < c; k++) column[k] = null;
          before = undefined;
        }
        at = c;
        chosen = v;
        count++;
      } else if (before !== undefined && Math.abs(v - before) > Math.abs(chosen - before)) {
        chosen = v;
      }
      prev = t;
    }
    if (at >= 0) column[at] = chosen;
    return count;
  }
}

/**
 * The index of the first of `sorted` not below `x`.
 * @param {readonly number[]} sorted @param {number} x
 */
function lowerBound(sorted, x) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (/** @type {number} */ (sorted[mid]) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sensor's colour, the same on every chart and its tile: ids ending in a number (V1, V2, …)
 * are spread by the golden angle, others by a hash.
 * @param {string} id @param {boolean} dark
 */
export function colorOf(id, dark) {
  const n = /(\d+)$/.exec(id);
  let key = n ? Number(n[1]) : 0;
  if (!n) { for (const ch of id) key = (key * 31 + ch.charCodeAt(0)) >>> 0; }
  const hue = Math.round((key * 137.508) % 360);
  return `hsl(${hue} 70% ${dark ? 65 : 40}%)`;
}
