/**
 * Structured one-line-per-event logging. Library code takes a {@link Logger}; only the CLI
 * decides where lines go.
 * @module
 */

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
  /** Where each formatted line goes. */
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
      ? JSON.stringify({ time, level, event, ...fields }, errorReplacer)
      : `${time} ${level.toUpperCase().padEnd(5)} ${event}${prettyFields(fields)}`;
    options.write(line, level);
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

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}

function prettyFields(fields: LogFields): string {
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = v instanceof Error
      ? `${v.name}: ${v.message}`
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
    out += ` ${k}=${/[\s"]/.test(s) ? JSON.stringify(s) : s}`;
  }
  return out;
}
