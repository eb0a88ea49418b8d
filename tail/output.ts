/**
 * Where `tail` puts what the client reports: NDJSON (the server's messages, one per line),
 * one human line per reading, or the live table. Status goes to stderr so stdout stays clean
 * for pipes. Nothing the server sent reaches the terminal with a control character in it: a
 * hostile or broken server could otherwise clear the screen or reorder what is shown.
 * @module
 */
import { escapeControl, escapeControlInJson } from "../lib/sanitize.ts";
import type { SensorReadingMessage, ServerMessage } from "../protocol/mod.ts";
import type { ConnectionState, TailEvents } from "./client.ts";
import { formatAge, formatCommandEvent, formatCommandStatus, formatLine } from "./format.ts";
import { describeNotice } from "./notices.ts";
import { LiveScreen } from "./screen.ts";
import { TableModel } from "./view.ts";

type SensorStatusMessage = Extract<ServerMessage, { type: "sensor_status" }>;

/** The three output formats. */
export type OutputFormat = "table" | "json" | "line";

/** Options of {@link createOutput}. */
export interface OutputOptions {
  format: OutputFormat;
  /** Writes to standard output as is. */
  stdout: (text: string) => void;
  /** Writes to standard error as is. */
  stderr: (text: string) => void;
  /** The stream URL without its token, for the header and messages. */
  url: string;
  /** ANSI colours in the table. */
  color: boolean;
  /** Terminal width now, for the table; read at every redraw so resizes are followed. */
  columns?: () => number | undefined;
  /** Terminal height now, for the table; read at every redraw like `columns`. */
  rows?: () => number | undefined;
  /** Clock in ms (reading ages). Default `Date.now`. */
  now?: () => number;
}

/** Client events wired to an output; `close()` restores the terminal. */
export interface Output extends TailEvents {
  /** Ends the output: final table frame, cursor shown again. Safe to call twice. */
  close(): void;
}

/** Creates the output for `options.format`. */
export function createOutput(options: OutputOptions): Output {
  const safe = { ...options, url: escapeControl(options.url) };
  return options.format === "table" ? tableOutput(safe) : streamOutput(safe);
}

/** Tracks state changes and words the ones worth a line on stderr. */
function stateNotes(url: string, announceConnect: boolean) {
  let lost = false;
  return (state: ConnectionState, detail?: string): string | undefined => {
    if (state === "connected") {
      const wasLost = lost;
      lost = false;
      if (wasLost) return `tail: reconnected to ${url}\n`;
      return announceConnect ? `tail: connected to ${url}\n` : undefined;
    }
    if (state === "reconnecting") lost = true;
    if ((state === "connecting" || state === "reconnecting") && detail) {
      return `tail: ${escapeControl(detail)}\n`;
    }
    return undefined;
  };
}

function streamOutput(options: OutputOptions): Output {
  const now = options.now ?? Date.now;
  const note = stateNotes(options.url, options.format === "line");
  const json = options.format === "json";
  const print = (text: string) => options.stdout(escapeControl(text) + "\n");
  const line = (msg: SensorReadingMessage) => print(formatLine(msg));
  return {
    onMessage(msg, raw) {
      if (json) options.stdout(escapeControlInJson(raw) + "\n");
      else if (msg.type === "sensor_reading") line(msg);
      // What happens in the field goes to stdout with the readings, one line per change.
      else if (msg.type === "command_event") print(formatCommandEvent(msg));
      else if (msg.type === "command_status") print(formatCommandStatus(msg));
      else if (msg.type === "bridge_status") {
        options.stderr(`tail: broker ${escapeControl(msg.data.mqtt)}\n`);
      } else if (msg.type === "sensor_status") {
        options.stderr(statusLine(msg.data, now()));
      } else if (msg.type === "error") options.stderr(errorLine(msg.data));
    },
    onHistory(readings) {
      // NDJSON has the reply itself; the line format prints the readings it had not printed.
      if (!json) { for (const r of readings) line(r); }
    },
    onNotice(notice) {
      options.stderr(`tail: ${describeNotice(notice)}\n`);
    },
    onState(state, detail) {
      const text = note(state, detail);
      if (text) options.stderr(text);
    },
    onUnknown(raw, problem) {
      // Forward what a newer server sends, so pipelines see it; a human view skips it.
      if (json && problem !== "not JSON") options.stdout(escapeControlInJson(raw) + "\n");
    },
    close() {},
  };
}

function tableOutput(options: OutputOptions): Output {
  const now = options.now ?? Date.now;
  const model = new TableModel(options.url);
  const screen = new LiveScreen(
    options.stdout,
    () =>
      model.render(now(), {
        color: options.color,
        columns: options.columns?.(),
        rows: options.rows?.(),
      }),
  );
  const note = stateNotes(options.url, false);
  screen.start();
  return {
    onMessage(msg) {
      if (msg.type === "error") {
        screen.log(() => options.stderr(errorLine(msg.data)));
        return;
      }
      model.apply(msg, now());
      screen.invalidate();
    },
    onHistory(readings) {
      model.backfill(readings, now());
      screen.invalidate();
    },
    onNotice(notice) {
      screen.log(() => options.stderr(`tail: ${describeNotice(notice)}\n`));
    },
    onState(state, detail) {
      model.setState(state);
      const text = note(state, detail);
      if (text) screen.log(() => options.stderr(text));
      else screen.invalidate();
    },
    close() {
      screen.stop();
    },
  };
}

/** `tail: V1 stale, last heard from 5m ago` / `tail: V1 live again`. */
function statusLine(status: SensorStatusMessage["data"], now: number): string {
  const id = escapeControl(status.sensor_id);
  if (status.status === "live") return `tail: ${id} live again\n`;
  const age = formatAge(now - Date.parse(status.last_seen));
  return `tail: ${id} stale, last heard from ${age} ago\n`;
}

function errorLine(error: { code: string; message: string }): string {
  return `tail: server error ${escapeControl(error.code)}: ${escapeControl(error.message)}\n`;
}
