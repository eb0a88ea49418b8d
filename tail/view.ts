/**
 * What `tail` shows, as pure functions of the messages received and the time: the live
 * table, the one-line-per-reading format and the moisture sparkline. No I/O, no timers.
 * @module
 */
import type { SensorReadingMessage, ServerMessage } from "../server/protocol.ts";
import type { TailState } from "./client.ts";

const BARS = "▁▂▃▄▅▆▇█";

/**
 * One bar per value, `▁` at `min` and `█` at `max` (values outside are clamped). A flat
 * range draws every bar at mid height.
 */
export function sparkline(values: readonly number[], min: number, max: number): string {
  const top = BARS.length - 1;
  return values.map((v) => {
    const level = max > min ? Math.round(((v - min) / (max - min)) * top) : top / 2;
    return BARS[Math.max(0, Math.min(top, Math.floor(level)))];
  }).join("");
}

/** `0.4s`, `12s`, `3m05s`, `2h03m`, `4d` (negative ages, from clock skew, count as 0). */
export function formatAge(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const pad = (n: number) => String(Math.floor(n)).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `2025-12-06T14:30:00.000Z V1 moisture=45.2% temperature=22.1°C humidity=65.5% light=800lx` */
export function formatLine(message: SensorReadingMessage): string {
  const d = message.data;
  return `${message.timestamp} ${d.sensor_id} moisture=${d.moisture.toFixed(1)}% ` +
    `temperature=${d.temperature.toFixed(1)}°C humidity=${d.humidity.toFixed(1)}% ` +
    `light=${Math.round(d.light)}lx`;
}

/** Options of {@link TableModel.render}. */
export interface RenderOptions {
  /** ANSI colours (off for `NO_COLOR`). */
  color: boolean;
  /** Terminal width; lines are cut to fit so in-place redraws never wrap. */
  columns?: number | undefined;
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
const STATE_STYLE: Record<TailState, string> = {
  connecting: STYLE.yellow,
  connected: STYLE.green,
  reconnecting: STYLE.yellow,
  closed: STYLE.red,
};
const COLUMNS: [title: string, width: number][] = [
  ["SENSOR", 8],
  ["MOISTURE", 9],
  ["TEMP", 9],
  ["HUMIDITY", 9],
  ["LIGHT", 10],
  ["AGE", 7],
];

/** The live table: latest reading and recent moisture per sensor, plus connection state. */
export class TableModel {
  /** Moisture values kept per sensor for the sparkline. */
  readonly historySize: number;
  #rows = new Map<string, Row>();
  #state: TailState = "connecting";
  #broker: string | undefined;
  #clients: number | undefined;
  #readings = 0;
  #url: string;

  /** `url` is shown in the header; it must not carry the token. */
  constructor(url: string, options: { historySize?: number } = {}) {
    this.#url = url;
    this.historySize = options.historySize ?? 20;
  }

  /** Sets the connection state shown in the header. */
  setState(state: TailState): void {
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
        this.#broker = message.data.mqtt;
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

  /** The table at time `now` (ms): lines joined with `\n`, no trailing newline. */
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
      ["sensorstream tail", STYLE.bold],
      [`  ${this.#url}  `],
      [this.#state, STATE_STYLE[this.#state]],
      ["  broker: "],
      [broker, broker === "connected" ? STYLE.green : STYLE.red],
      [`  clients: ${this.#clients ?? "?"}  readings: ${this.#readings}`],
    ];
    const titles = COLUMNS.map(([t, w], i) => i === 0 ? t.padEnd(w) : t.padStart(w)).join("");
    const lines = [fit(header), "", fit([[`${titles}  MOISTURE TREND`, STYLE.dim]])];
    const ids = [...this.#rows.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    if (ids.length === 0) lines.push(fit([["waiting for readings…", STYLE.dim]]));
    for (const id of ids) lines.push(fit(this.#rowCells(this.#rows.get(id)!, now)));
    return lines.join("\n");
  }

  #rowCells(row: Row, now: number): Cell[] {
    const d = row.reading.data;
    const w = COLUMNS.map(([, width]) => width);
    const age = now - row.at;
    const lo = Math.min(...row.moisture);
    const hi = Math.max(...row.moisture);
    // A span of at least 2 points keeps sensor noise from looking like a trend.
    const mid = (lo + hi) / 2;
    const span = Math.max(hi - lo, 2) / 2;
    return [
      [d.sensor_id.padEnd(w[0]!), STYLE.bold],
      [`${d.moisture.toFixed(1)} %`.padStart(w[1]!)],
      [`${d.temperature.toFixed(1)} °C`.padStart(w[2]!)],
      [`${d.humidity.toFixed(1)} %`.padStart(w[3]!)],
      [`${Math.round(d.light)} lx`.padStart(w[4]!)],
      [formatAge(age).padStart(w[5]!), age > STALE_MS ? STYLE.yellow : undefined],
      ["  "],
      [sparkline(row.moisture, mid - span, mid + span), STYLE.green],
    ];
  }
}
