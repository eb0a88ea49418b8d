/**
 * The messages between the supervisor of `serve --workers` (`workers.ts`, main thread) and each
 * worker (`worker_main.ts`, a Web Worker running `startServer`). Structured-cloned, so plain
 * data only.
 * @module
 */
import type { LogFields, LogLevel } from "../lib/log.ts";
import type { ServerOptions } from "./config.ts";

/** Supervisor to worker. */
export type ToWorker =
  | {
    type: "start";
    /** Which worker this is (0-based; a restarted worker keeps its index). */
    index: number;
    /** Server options: the shared port, `reusePort`, the broker URL, this worker's instance. */
    options: ServerOptions;
    /** Lowest level worth sending to the supervisor. */
    logLevel: LogLevel;
    /** The merged `/metrics` text so far, if any. */
    metrics: string | undefined;
  }
  /** The merged `/metrics` text this worker answers with until the next one. */
  | { type: "metrics"; text: string }
  /** Send a `report` (the supervisor asks every second; an answer also says the worker is alive). */
  | { type: "report" }
  /** Stop: 1001 to every client (after the drain delay when `drain`), then `stopped`. */
  | { type: "shutdown"; drain: boolean };

/** An error, as data. */
export interface ErrorData {
  name: string;
  message: string;
  /** `StartupError.template`: the message with `{path}` placeholders, for the CLI's wording. */
  template?: string;
}

/** Worker to supervisor. */
export type FromWorker =
  /** Serving on `port`. */
  | { type: "listening"; port: number }
  /** `startServer` threw; the worker is done. */
  | { type: "failed"; error: ErrorData }
  /** This worker's own metrics (`Metrics.render()` of its registry) and open sockets. */
  | { type: "report"; text: string; sockets: number }
  /** A log event, for the supervisor's logger (which adds `worker`). */
  | { type: "log"; level: Exclude<LogLevel, "silent">; event: string; fields: LogFields }
  /** The server stopped (a report precedes this); with `error` when it failed on its own. */
  | { type: "stopped"; error?: ErrorData };

/** An error as data, for `postMessage`. */
export function errorData(error: unknown): ErrorData {
  const e = error instanceof Error ? error : new Error(String(error));
  const template = (e as { template?: unknown }).template;
  return {
    name: e.name,
    message: e.message,
    ...typeof template === "string" ? { template } : {},
  };
}
