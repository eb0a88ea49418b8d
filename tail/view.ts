/**
 * The live table of `tail`: a pure model of the messages received, rendered for a given
 * time. Readings from `history` replies fill the sparklines in time order; sensors the server
 * calls stale say so; a station being irrigated says so, and by whom, in a VALVE column that is
 * there while some row has something to show (tail/irrigation.ts). No I/O, no timers
 * (tail/screen.ts draws it in place).
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import type { SensorReadingMessage, ServerMessage } from "../protocol/mod.ts";
import { CappedMap, MAX_SENSORS } from "./capped_map.ts";
import type { ConnectionState } from "./client.ts";
import { formatAge, formatLux, oneDecimal, sparkline } from "./format.ts";
import { readingKey } from "./history.ts";
import { Valve, valveColumn } from "./irrigation.ts";

export { formatLine, sparkline } from "./format.ts";

/** Options of {@link TableModel.render}. */
export interface RenderOptions {
  /** ANSI colours (off for `NO_COLOR`). */
  color: boolean;
  /** Terminal width; lines are cut to fit so in-place redraws never wrap. */
  columns?: number | undefined;
  /**
   * Terminal height: the table has at most this many lines (an in-place redraw cannot move
   * the cursor above the screen); sensors that do not fit are summed up as `+N more`.
   */
  rows?: number | undefined;
}

/** Moisture values (bars) per sensor: what `tail` asks history for by default. */
export const SPARKLINE_WIDTH = 20;

/** One bar of a sparkline: a reading's time, identity and moisture. */
interface Point {
  at: number;
  key: string;
  moisture: number;
}

interface Row {
  /** The latest reading; absent for a sensor known only from its `sensor_status`. */
  reading: SensorReadingMessage | undefined;
  /** Reading time, ms (receipt time when the timestamp is not a date); NaN: no reading yet. */
  at: number;
  /** Recent readings, oldest first, at most `historySize`. */
  points: Point[];
  /** The server says the sensor is stale; when it last heard from it, ms. */
  staleSince: number | undefined;
  /** Its valve, once a command for it was heard of. */
  valve?: Valve | undefined;
}

type Cell = [text: string, style?: string];

const STYLE = {
  bold: "1",
  dim: "2",
  red: "31",
  green: "32",
  yellow: "33",
} as const;
/** Readings older than this are shown as stale, ms. */
const STALE_MS = 30_000;
const STATE_STYLE: Record<ConnectionState, string> = {
  connecting: STYLE.yellow,
  connected: STYLE.green,
  reconnecting: STYLE.yellow,
  closed: STYLE.red,
};
const BROKER_STYLE: Record<string, string> = { connected: STYLE.green, disconnected: STYLE.red };
/** Value columns after SENSOR, whose width follows the longest id. */
const COLUMNS: [title: string, width: number][] = [
  ["MOISTURE", 9],
  ["TEMP", 9],
  ["HUMIDITY", 9],
  ["LIGHT", 10],
  ["AGE", 10],
];

/** Lines above the sensor rows: header, blank, column titles. */
const HEAD_LINES = 3;
const collator = new Intl.Collator("en", { numeric: true });

/** The live table: latest reading and recent moisture per sensor, plus connection state. */
export class TableModel {
  /** Moisture values kept per sensor for the sparkline. */
  readonly historySize: number;
  /** The least recently updated sensors beyond {@link MAX_SENSORS} are forgotten. */
  #rows: CappedMap<string, Row>;
  #state: ConnectionState = "connecting";
  #broker: string | undefined;
  #clients: number | undefined;
  /** The serving process this connection landed on (`connection_status.instance`). */
  #instance: string | undefined;
  #readings = 0;
  #url: string;

  /**
   * `url` is shown in the header; it must not carry the token. `maxSensors` (default
   * {@link MAX_SENSORS}) bounds the rows kept.
   */
  constructor(url: string, options: { historySize?: number; maxSensors?: number } = {}) {
    this.#url = escapeControl(url);
    this.historySize = options.historySize ?? SPARKLINE_WIDTH;
    this.#rows = new CappedMap(options.maxSensors ?? MAX_SENSORS);
  }

  /** Sensors kept, at most `maxSensors`. */
  get sensorCount(): number {
    return this.#rows.size;
  }

  /** Sets the connection state shown in the header. */
  setState(state: ConnectionState): void {
    // What the last connection said about the broker and clients is stale once it is gone.
    if (state !== "connected") {
      this.#broker = undefined;
      this.#clients = undefined;
    }
    this.#state = state;
  }

  /** Takes one server message received at `now` (ms). */
  apply(message: ServerMessage, now: number): void {
    switch (message.type) {
      case "connection_status":
        // The server does not replay commands: what the last connection said may have ended.
        for (const id of this.#rows.keys()) this.#rows.get(id)!.valve = undefined;
        this.#state = "connected";
        this.#clients = message.data.active_clients;
        this.#instance = message.data.instance === undefined
          ? undefined
          : escapeControl(message.data.instance).slice(0, 64);
        break;
      case "bridge_status":
        this.#broker = escapeControl(message.data.mqtt);
        break;
      case "sensor_reading": {
        const row = this.#take(message, now);
        // A live reading is the sensor's current state, whatever its timestamp says.
        row.reading = message;
        row.at = timeOf(message, now);
        row.staleSince = undefined;
        this.#readings++;
        break;
      }
      case "sensor_status": {
        const { sensor_id: id, status, last_seen: lastSeen } = message.data;
        const row = this.#rows.get(id);
        const staleSince = status === "stale" ? timeOf({ timestamp: lastSeen }, now) : undefined;
        if (row) row.staleSince = staleSince;
        else if (staleSince !== undefined) {
          this.#rows.set(id, { reading: undefined, at: staleSince, points: [], staleSince });
        }
        break;
      }
      case "command_event": {
        const id = message.data.sensor_id;
        let row = this.#rows.get(id);
        if (!row) {
          row = { reading: undefined, at: NaN, points: [], staleSince: undefined };
          this.#rows.set(id, row);
        }
        (row.valve ??= new Valve()).event(message.data, now);
        break;
      }
      case "command_status": {
        // What this connection's own commands did reaches everyone as command_event, but for
        // a refusal; and a refused sensor may not be one the client sees: no new row for it.
        const row = this.#rows.get(message.data.sensor_id);
        if (row && message.data.status === "rejected") {
          (row.valve ??= new Valve()).rejected(message.data.id, now);
        }
        break;
      }
    }
  }

  /**
   * Takes readings of a `history` reply (oldest first), received at `now`: each goes into its
   * sensor's sparkline in time order, once, and shows as the sensor's values when it is newer
   * than what the row shows.
   */
  backfill(readings: readonly SensorReadingMessage[], now: number): void {
    for (const reading of readings) {
      const row = this.#take(reading, now);
      const at = timeOf(reading, now);
      if (row.reading === undefined || at > row.at) {
        row.reading = reading;
        row.at = at;
      }
    }
  }

  /** The row of `reading`'s sensor (made most recent), with the reading in its sparkline. */
  #take(reading: SensorReadingMessage, now: number): Row {
    const id = reading.data.sensor_id;
    const at = timeOf(reading, now);
    const row = this.#rows.get(id) ??
      { reading: undefined, at, points: [], staleSince: undefined };
    addPoint(row.points, {
      at,
      key: readingKey(reading.timestamp, reading.data),
      moisture: reading.data.moisture,
    }, this.historySize);
    this.#rows.set(id, row);
    return row;
  }

  /**
   * The table at time `now` (ms): lines joined with `\n`, no trailing newline, at most
   * `options.rows` of them.
   */
  render(now: number, options: RenderOptions): string {
    const paint = ([text, style]: Cell) =>
      options.color && style ? `\x1b[${style}m${text}\x1b[0m` : text;
    const fit = (cells: Cell[]) => {
      let room = options.columns === undefined ? Infinity : Math.max(1, options.columns - 1);
      const out: string[] = [];
      for (const [text, style] of cells) {
        if (room <= 0) break;
        const part = text.length > room ? text.slice(0, room) : text;
        out.push(paint([part, style]));
        room -= part.length;
      }
      return out.join("");
    };
    const broker = this.#broker ?? "unknown";
    const header: Cell[] = [
      ["sensorstream tail  ", STYLE.bold],
      [this.#state, STATE_STYLE[this.#state]],
      ["  broker: "],
      [broker, BROKER_STYLE[broker] ?? STYLE.yellow],
      // The URL goes last: on a narrow terminal it is what gets cut.
      [
        `  clients at connect: ${this.#clients ?? "?"}` +
        (this.#instance ? `  instance: ${this.#instance}` : "") +
        `  readings: ${this.#readings}  ${this.#url}`,
      ],
    ];
    const limit = Math.max(1, options.rows ?? Infinity);
    const ids = [...this.#rows.keys()].sort(collator.compare);
    const evicted = this.#rows.evicted;
    const fits = HEAD_LINES + Math.max(1, ids.length) + (evicted > 0 ? 1 : 0) <= limit;
    const shown = fits ? ids : ids.slice(0, Math.max(0, limit - HEAD_LINES - 1));
    const idWidth = Math.max(8, ...shown.map((id) => escapeControl(id).length + 2));
    // Before the trend, which a narrow terminal cuts first.
    const valves = valveColumn(shown.map((id) => this.#rows.get(id)!.valve?.shown(now)));
    const titles = "SENSOR".padEnd(idWidth) + COLUMNS.map(([t, w]) => t.padStart(w)).join("") +
      (valves ? `  ${valves.title}` : "");
    const lines = [fit(header), "", fit([[`${titles}  MOISTURE TREND`, STYLE.dim]])];
    if (ids.length === 0) lines.push(fit([["waiting for readings…", STYLE.dim]]));
    for (const [i, id] of shown.entries()) {
      const cells = this.#rowCells(id, this.#rows.get(id)!, now, idWidth);
      // The trend's two-space gap stays in front of it.
      if (valves) cells.splice(-2, 0, ["  "], ...valves.cells[i]!);
      lines.push(fit(cells));
    }
    if (shown.length < ids.length || evicted > 0) {
      lines.push(fit([[moreLine(ids.length - shown.length, evicted, this.#rows.max), STYLE.dim]]));
    }
    // Only a terminal of fewer than five rows cuts into the header.
    return lines.slice(0, limit).join("\n");
  }

  #rowCells(id: string, row: Row, now: number, idWidth: number): Cell[] {
    const w = COLUMNS.map(([, width]) => width);
    const stale = row.staleSince !== undefined;
    // A stale sensor's values are old news: dimmed, and its age says `stale` in words too.
    const valueStyle = stale ? STYLE.dim : undefined;
    const age = stale ? now - row.staleSince! : now - row.at;
    // A station known only from a command has no reading to be old.
    const ageText = (stale ? `stale ${formatAge(age)}` : Number.isNaN(age) ? "–" : formatAge(age))
      .padStart(w[4]!);
    const ageStyle = stale || age > STALE_MS ? STYLE.yellow : undefined;
    const d = row.reading?.data;
    const moisture = row.points.map((p) => p.moisture);
    const lo = Math.min(...moisture);
    const hi = Math.max(...moisture);
    // A span of at least 2 points keeps sensor noise from looking like a trend.
    const mid = (lo + hi) / 2;
    const span = Math.max(hi - lo, 2) / 2;
    return [
      [escapeControl(id).padEnd(idWidth), STYLE.bold],
      [(d ? `${oneDecimal(d.moisture)} %` : "–").padStart(w[0]!), valueStyle],
      [(d ? `${oneDecimal(d.temperature)} °C` : "–").padStart(w[1]!), valueStyle],
      [(d ? `${oneDecimal(d.humidity)} %` : "–").padStart(w[2]!), valueStyle],
      [(d ? `${formatLux(d.light)} lx` : "–").padStart(w[3]!), valueStyle],
      [ageText, ageStyle],
      ["  "],
      [sparkline(moisture, mid - span, mid + span), stale ? STYLE.dim : STYLE.green],
    ];
  }
}

/** A message's time, ms; `now` when its timestamp is not a date. */
function timeOf(message: { timestamp: string }, now: number): number {
  const t = Date.parse(message.timestamp);
  return Number.isNaN(t) ? now : t;
}

/**
 * Puts `point` into `points` (oldest first) in time order, unless it is there already; keeps
 * the newest `max`.
 */
function addPoint(points: Point[], point: Point, max: number): void {
  if (points.some((p) => p.key === point.key)) return;
  let i = points.length;
  while (i > 0 && points[i - 1]!.at > point.at) i--;
  if (i === 0 && points.length >= max) return;
  points.splice(i, 0, point);
  if (points.length > max) points.shift();
}

/** `+12 more`, and how many sensors were forgotten to stay within `max`. */
function moreLine(hidden: number, evicted: number, max: number): string {
  const parts = hidden > 0 ? [`+${hidden} more`] : [];
  if (evicted > 0) {
    parts.push(`${evicted} least recently updated forgotten (tail keeps ${max} sensors)`);
  }
  return parts.join("; ");
}
