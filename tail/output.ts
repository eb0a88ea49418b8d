/**
 * Where `tail` puts what the client reports: NDJSON (the server's messages exactly, one per
 * line), one human line per reading, or the live table. Status goes to stderr so stdout stays
 * clean for pipes.
 * @module
 */
import type { ConnectionState, TailEvents } from "./client.ts";
import { formatLine } from "./format.ts";
import { LiveScreen } from "./screen.ts";
import { TableModel } from "./view.ts";

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
  return options.format === "table" ? tableOutput(options) : streamOutput(options);
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
      return `tail: ${detail}\n`;
    }
    return undefined;
  };
}

function streamOutput(options: OutputOptions): Output {
  const note = stateNotes(options.url, options.format === "line");
  const json = options.format === "json";
  return {
    onMessage(msg, raw) {
      if (json) options.stdout(oneLine(raw) + "\n");
      else if (msg.type === "sensor_reading") options.stdout(formatLine(msg) + "\n");
      else if (msg.type === "bridge_status") options.stderr(`tail: broker ${msg.data.mqtt}\n`);
      else if (msg.type === "error") {
        options.stderr(`tail: server error ${msg.data.code}: ${msg.data.message}\n`);
      }
    },
    onState(state, detail) {
      const text = note(state, detail);
      if (text) options.stderr(text);
    },
    onUnknown(raw, problem) {
      // Forward what a newer server sends, so pipelines see it; a human view skips it.
      if (json && problem !== "not JSON") options.stdout(oneLine(raw) + "\n");
    },
    close() {},
  };
}

function tableOutput(options: OutputOptions): Output {
  const now = options.now ?? Date.now;
  const model = new TableModel(options.url);
  const screen = new LiveScreen(
    options.stdout,
    () => model.render(now(), { color: options.color, columns: options.columns?.() }),
  );
  const note = stateNotes(options.url, false);
  screen.start();
  return {
    onMessage(msg) {
      if (msg.type === "error") {
        screen.log(() =>
          options.stderr(`tail: server error ${msg.data.code}: ${msg.data.message}\n`)
        );
        return;
      }
      model.apply(msg, now());
      screen.invalidate();
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

/** NDJSON needs one line per message; re-serialize only if the server sent newlines. */
function oneLine(raw: string): string {
  return raw.includes("\n") ? JSON.stringify(JSON.parse(raw)) : raw;
}
