/**
 * The live table of `tail`: a pure model of the messages received, rendered for a given
 * time. No I/O, no timers (tail/screen.ts draws it in place).
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import type { SensorReadingMessage, ServerMessage } from "../protocol/mod.ts";
import { CappedMap, MAX_SENSORS } from "./capped_map.ts";
import type { ConnectionState } from "./client.ts";
import { formatAge, formatLux, oneDecimal, sparkline } from "./format.ts";

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

interface Row {
  reading: SensorReadingMessage;
  /** Reading time, ms (receipt time when the timestamp is not a date). */
  at: number;
  moisture: number[];
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
  ["AGE", 7],
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
  #readings = 0;
  #url: string;

  /**
   * `url` is shown in the header; it must not carry the token. `maxSensors` (default
   * {@link MAX_SENSORS}) bounds the rows kept.
   */
  constructor(url: string, options: { historySize?: number; maxSensors?: number } = {}) {
    this.#url = escapeControl(url);
    this.historySize = options.historySize ?? 20;
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
        this.#state = "connected";
        this.#clients = message.data.active_clients;
        break;
      case "bridge_status":
        this.#broker = escapeControl(message.data.mqtt);
        break;
      case "sensor_reading": {
        const id = message.data.sensor_id;
        const row = this.#rows.get(id) ?? { reading: message, at: now, moisture: [] };
        const t = Date.parse(message.timestamp);
        row.reading = message;
        row.at = Number.isNaN(t) ? now : t;
        row.moisture.push(message.data.moisture);
        if (row.moisture.length > this.historySize) row.moisture.shift();
        this.#rows.set(id, row);
        this.#readings++;
        break;
      }
    }
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
      [`  clients at connect: ${this.#clients ?? "?"}  readings: ${this.#readings}  ${this.#url}`],
    ];
    const limit = Math.max(1, options.rows ?? Infinity);
    const ids = [...this.#rows.keys()].sort(collator.compare);
    const evicted = this.#rows.evicted;
    const fits = HEAD_LINES + Math.max(1, ids.length) + (evicted > 0 ? 1 : 0) <= limit;
    const shown = fits ? ids : ids.slice(0, Math.max(0, limit - HEAD_LINES - 1));
    const idWidth = Math.max(8, ...shown.map((id) => escapeControl(id).length + 2));
    const titles = "SENSOR".padEnd(idWidth) + COLUMNS.map(([t, w]) => t.padStart(w)).join("");
    const lines = [fit(header), "", fit([[`${titles}  MOISTURE TREND`, STYLE.dim]])];
    if (ids.length === 0) lines.push(fit([["waiting for readings…", STYLE.dim]]));
    for (const id of shown) lines.push(fit(this.#rowCells(this.#rows.get(id)!, now, idWidth)));
    if (shown.length < ids.length || evicted > 0) {
      lines.push(fit([[moreLine(ids.length - shown.length, evicted, this.#rows.max), STYLE.dim]]));
    }
    // Only a terminal of fewer than five rows cuts into the header.
    return lines.slice(0, limit).join("\n");
  }

  #rowCells(row: Row, now: number, idWidth: number): Cell[] {
    const d = row.reading.data;
    const w = COLUMNS.map(([, width]) => width);
    const age = now - row.at;
    const lo = Math.min(...row.moisture);
    const hi = Math.max(...row.moisture);
    // A span of at least 2 points keeps sensor noise from looking like a trend.
    const mid = (lo + hi) / 2;
    const span = Math.max(hi - lo, 2) / 2;
    return [
      [escapeControl(d.sensor_id).padEnd(idWidth), STYLE.bold],
      [`${oneDecimal(d.moisture)} %`.padStart(w[0]!)],
      [`${oneDecimal(d.temperature)} °C`.padStart(w[1]!)],
      [`${oneDecimal(d.humidity)} %`.padStart(w[2]!)],
      [`${formatLux(d.light)} lx`.padStart(w[3]!)],
      [formatAge(age).padStart(w[4]!), age > STALE_MS ? STYLE.yellow : undefined],
      ["  "],
      [sparkline(row.moisture, mid - span, mid + span), STYLE.green],
    ];
  }
}

/** `+12 more`, and how many sensors were forgotten to stay within `max`. */
function moreLine(hidden: number, evicted: number, max: number): string {
  const parts = hidden > 0 ? [`+${hidden} more`] : [];
  if (evicted > 0) {
    parts.push(`${evicted} least recently updated forgotten (tail keeps ${max} sensors)`);
  }
  return parts.join("; ");
}
