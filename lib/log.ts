/**
 * Structured one-line-per-event logging. Library code takes a {@link Logger}; only the CLI
 * decides where lines go. Lines carry text from clients and brokers, so neither format lets a
 * control character through to the terminal or log viewer that shows them.
 * @module
 */
import { escapeControl, escapeControlInJson, hasControl } from "../lib/sanitize.ts";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];
/** `pretty` for humans, `json` for log collectors. */
export type LogFormat = "pretty" | "json";
/** Extra fields of a log event. */
export type LogFields = Record<string, unknown>;

/** What library code logs through. */
export interface Logger {
  /** Fine-grained detail for debugging. */
  debug(event: string, fields?: LogFields): void;
  /** Normal lifecycle events. */
  info(event: string, fields?: LogFields): void;
  /** Something went wrong but the service carries on. */
  warn(event: string, fields?: LogFields): void;
  /** Something failed. */
  error(event: string, fields?: LogFields): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Line format. Default `pretty`. */
  format?: LogFormat;
  /** Where each formatted line goes; what it throws is ignored. */
  write: (line: string, level: LogLevel) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Creates a logger writing one line per event. */
export function createLogger(options: LoggerOptions): Logger {
  const min = LOG_LEVELS.indexOf(options.level ?? "info");
  const format = options.format ?? "pretty";
  const now = options.now ?? (() => new Date());
  const log = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const time = now().toISOString();
    const line = format === "json"
      ? jsonLine({ time, level, event, ...fields })
      : `${time} ${level.toUpperCase().padEnd(5)} ${escapeControl(event)}${prettyFields(fields)}`;
    try {
      options.write(line, level);
    } catch {
      // Logging is never why a request, a fan-out or a shutdown fails.
    }
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything (library default). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

function jsonLine(record: LogFields): string {
  let text: string;
  try {
    text = JSON.stringify(record, replacer);
  } catch (error) {
    // A circular field must not turn a log call into an exception in the caller.
    const { time, level, event } = record;
    text = JSON.stringify({ time, level, event, log_error: `fields not serializable: ${error}` });
  }
  return escapeControlInJson(text);
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return typeof value === "bigint" ? String(value) : value;
}

function prettyFields(fields: LogFields): string {
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out += ` ${escapeControl(k)}=${prettyValue(v)}`;
  }
  return out;
}

/** Plain when safe; otherwise a JSON string, whose escapes say exactly what was there. */
function prettyValue(v: unknown): string {
  let s: string;
  if (v instanceof Error) s = `${v.name}: ${v.message}`;
  else if (typeof v === "string") s = v;
  else {
    try {
      s = JSON.stringify(v, replacer) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return /[\s"]/.test(s) || hasControl(s) ? escapeControlInJson(JSON.stringify(s)) : s;
}
