// @ts-check
/// <reference lib="dom" />
/**
 * The four charts (one per quantity, a line per shown sensor), drawn with uPlot (loaded as
 * `/uplot.min.js`, a global). Charts are rebuilt only when the shown sensors or the colour scheme
 * change; otherwise they get new data, and only when there is something new to show: readings
 * came, or time moved the window on by a column. Each line gets about one point per pixel
 * ({@link ChartGrid}).
 * @module
 */
import { ChartGrid, colorOf, columnMs } from "./chart_data.js";
import { LABELS, QUANTITIES } from "./state.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./state.js").Quantity} Quantity */
/** @typedef {typeof import("uplot")} UPlotClass */
/** @typedef {InstanceType<UPlotClass>} UPlot */

const HEIGHT = 200;
/**
 * Up to this many lines a chart has a legend and lines 1.5 px wide. Beyond, 1 px: without a GPU
 * the canvas is drawn in software, where Skia draws 1 px lines ("hairlines") an order of magnitude
 * faster than wider ones (50 sensors: ~10 % of a core for the charts at 1.5 px, <1 % at 1 px).
 */
const FEW = 12;
/** The axes' font (uPlot's default, named here to measure labels with it). */
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
/** uPlot's y axis: tick length and gap before the label, px. */
const TICK_PX = 10;
const GAP_PX = 5;
/** A line gets dots on its readings while they are at least this far apart on average, px. */
const DOTS_PX = 10;

/**
 * A y-axis tick as shown: numbers from 10,000 on in thousands (`12.5k`), so labels stay short.
 * @param {number} v
 */
export function formatTick(v) {
  if (Math.abs(v) < 10_000) return String(v);
  return `${Number((v / 1000).toFixed(1))}k`;
}

/** @type {CanvasRenderingContext2D | null | undefined} */
let measurer;

/** The width of `text` in the axes' font, px (estimated where there is no canvas). */
function textWidth(/** @type {string} */ text) {
  measurer ??= document.createElement("canvas").getContext("2d");
  if (!measurer) return 7.5 * text.length;
  measurer.font = FONT;
  return measurer.measureText(text).width;
}

/** The charts of the page. */
export class Charts {
  #UPlot;
  #slots;
  /** @type {Map<Quantity, UPlot>} */
  #plots = new Map();
  #grid = new ChartGrid();
  #key = "";
  #from = 0;
  #to = 1;
  /** Per series (uPlot's index), whether its readings are few enough to dot. @type {boolean[]} */
  #dotted = [];
  /** What the last draw showed: the model's version and the grid's first column. */
  #drawn = { version: -1, column: NaN, widthMs: 0 };

  /**
   * @param {Record<Quantity, HTMLElement>} slots Where each chart goes.
   * @param {UPlotClass} UPlot
   */
  constructor(slots, UPlot) {
    this.#slots = slots;
    this.#UPlot = UPlot;
  }

  /**
   * Draws the readings of `ids` over the window ending at `serverNow`, unless the charts show
   * them already (no new readings, and the window has not moved by a column). True when it drew.
   * @param {Model} model @param {readonly string[]} ids @param {number} serverNow
   * @param {{ dark: boolean }} o
   */
  draw(model, ids, serverNow, o) {
    const key = `${o.dark} ${ids.join(",")}`;
    if (key !== this.#key) {
      this.#rebuild(ids, o.dark);
      this.#key = key;
      this.#drawn.version = -1;
    }
    const widthMs = columnMs(model.windowMs, this.#plotWidth());
    const from = serverNow - model.windowMs;
    const column = Math.floor(from / widthMs);
    const drawn = this.#drawn;
    if (
      drawn.version === model.version && drawn.column === column && drawn.widthMs === widthMs
    ) return false;
    this.#from = from;
    this.#to = serverNow;
    const data = this.#grid.update(model, ids, { from, to: serverNow, widthMs });
    // Dots make a reading with no neighbour to draw a line to visible (a new sensor's first).
    const dots = model.windowMs / widthMs / DOTS_PX;
    this.#dotted = [false, ...ids.map((id) => this.#grid.count(id) <= dots)];
    for (const q of QUANTITIES) {
      const plot = this.#plots.get(q);
      // The arrays are the grid's, refilled in place: uPlot is given them anew each time.
      if (plot) plot.setData(/** @type {any} */ (data[q]));
    }
    this.#drawn = { version: model.version, column, widthMs };
    return true;
  }

  /** Fits the charts to their slots (the page was resized or rotated). */
  resize() {
    for (const [q, plot] of this.#plots) plot.setSize({ width: this.#width(q), height: HEIGHT });
    this.#drawn.version = -1;
  }

  /** The widest plot area, CSS px: the number of columns worth drawing. */
  #plotWidth() {
    let px = 0;
    for (const plot of this.#plots.values()) px = Math.max(px, plot.bbox.width / devicePixelRatio);
    return px > 0 ? px : this.#width("moisture");
  }

  /** @param {readonly string[]} ids @param {boolean} dark */
  #rebuild(ids, dark) {
    for (const plot of this.#plots.values()) plot.destroy();
    this.#plots.clear();
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--muted").trim() || (dark ? "#bbb" : "#444");
    const grid = css.getPropertyValue("--grid").trim() || (dark ? "#333" : "#e4e4e4");
    for (const q of QUANTITIES) {
      const { unit } = LABELS[q];
      const axis = {
        font: FONT,
        stroke: fg,
        grid: { stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1, size: TICK_PX },
        gap: GAP_PX,
      };
      const plot = new this.#UPlot(
        {
          width: this.#width(q),
          height: HEIGHT,
          legend: { show: ids.length <= FEW },
          scales: { x: { time: true, range: () => [this.#from / 1000, this.#to / 1000] } },
          axes: [
            axis,
            {
              ...axis,
              // As wide as the widest label, measured: a cut-off "0000 lx" says nothing.
              size: (_u, values) =>
                Math.ceil(
                  TICK_PX + GAP_PX + 4 + Math.max(28, ...(values ?? []).map((v) => textWidth(v))),
                ),
              values: (_u, ticks) => ticks.map((t) => `${formatTick(t)} ${unit}`),
            },
          ],
          series: [
            {},
            ...ids.map((id) => ({
              label: id,
              stroke: colorOf(id, dark),
              width: ids.length <= FEW ? 1.5 : 1,
              points: {
                show: (/** @type {unknown} */ _u, /** @type {number} */ i) =>
                  this.#dotted[i] ?? false,
              },
              value: (/** @type {unknown} */ _u, /** @type {number | null} */ v) =>
                v === null || v === undefined ? "–" : `${v} ${unit}`,
            })),
          ],
        },
        [[], ...ids.map(() => [])],
        this.#slots[q],
      );
      this.#plots.set(q, plot);
    }
  }

  /** @param {Quantity} q */
  #width(q) {
    return Math.max(200, this.#slots[q].clientWidth);
  }
}
