/**
 * Small pure formatters for the `tail` views: values with units, ages, sparklines, and
 * the one-line forms of a reading and of a command's state.
 * @module
 */
import type { SensorReadingMessage, ServerMessage } from "../protocol/mod.ts";
import { IRRIGATION_WORDS } from "./irrigation.ts";

type CommandEventMessage = Extract<ServerMessage, { type: "command_event" }>;
type CommandStatusMessage = Extract<ServerMessage, { type: "command_status" }>;

const SPARKS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] as const;

/**
 * One block character per value, scaled so `min` is `▁` and `max` is `█`. Values outside
 * the range are clamped; a flat range (`max <= min`) draws every value at mid height, and
 * non-finite values draw as a space.
 */
export function sparkline(values: readonly number[], min: number, max: number): string {
  const span = max - min;
  return values.map((v) => {
    if (!Number.isFinite(v)) return " ";
    if (!(span > 0)) return SPARKS[3];
    const level = Math.round(((v - min) / span) * (SPARKS.length - 1));
    return SPARKS[Math.min(SPARKS.length - 1, Math.max(0, level))];
  }).join("");
}

/** Formats an age in ms compactly: `0s`…`59s`, `1m`…`59m`, `1h`…`47h`, then days. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3_600) return `${Math.floor(s / 3_600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A value with one decimal (`45.2`). */
export function oneDecimal(v: number): string {
  return v.toFixed(1);
}

/** Light in lux: whole numbers stay whole, fractions get one decimal. */
export function formatLux(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * One human line per reading:
 * `2025-12-06T14:30:00.000Z V1 moisture=45.2% temperature=22.1°C humidity=65.5% light=800lx`.
 */
export function formatLine(msg: SensorReadingMessage): string {
  const d = msg.data;
  return `${msg.timestamp} ${d.sensor_id} moisture=${oneDecimal(d.moisture)}% ` +
    `temperature=${oneDecimal(d.temperature)}°C humidity=${oneDecimal(d.humidity)}% ` +
    `light=${formatLux(d.light)}lx`;
}

/**
 * One human line per change of a command, for everyone who sees the sensor:
 * `2025-12-06T14:30:00.000Z V1 irrigating by=alice command=c-1` (the words of
 * tail/irrigation.ts). Peer text is as sent: escape it before printing.
 */
export function formatCommandEvent(msg: CommandEventMessage): string {
  const d = msg.data;
  return `${msg.timestamp} ${d.sensor_id} ${IRRIGATION_WORDS[d.status]} by=${d.issued_by} ` +
    `command=${d.id}`;
}

/**
 * One human line per `command_status` (only the client that sent the command gets these):
 * `2025-12-06T14:30:00.000Z V1 command=c-1 rejected reason=rate limited: …`, with the
 * device's `detail=` when it gave one. Peer text is as sent: escape it before printing.
 */
export function formatCommandStatus(msg: CommandStatusMessage): string {
  const d = msg.data;
  return `${msg.timestamp} ${d.sensor_id} command=${d.id} ${d.status}` +
    (d.reason === undefined ? "" : ` reason=${d.reason}`) +
    (d.detail === undefined ? "" : ` detail=${d.detail}`);
}
