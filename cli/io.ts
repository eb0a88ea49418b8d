/**
 * The CLI's view of the process: output streams, environment, terminal, and a signal that
 * aborts on Ctrl-C / SIGTERM. Tests pass their own to run commands in-process.
 * @module
 */
import { LogWriter } from "./log_writer.ts";

/** Where a command reads and writes. */
export interface CliIo {
  /**
   * Writes text to standard output as is (add your own newline). Synchronous, so a slow reader
   * slows the writer down; throws `Deno.errors.BrokenPipe` once the reader is gone.
   */
  stdout(text: string): void;
  /** Writes text to standard error as is (add your own newline); never throws. */
  stderr(text: string): void;
  /**
   * Writes one log line (newline added) to standard error without waiting and without ever
   * throwing; when stderr cannot keep up, lines are dropped and their number written later.
   * Absent in I/O that has no such writer: use `stderr(line + "\n")` then.
   */
  log?(line: string): void;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** True when standard output is a terminal (live views); false when piped. */
  isTerminal: boolean;
  /** Terminal width in columns when known (read each time: the terminal may be resized). */
  readonly columns: number | undefined;
  /** Terminal height in rows when known (read each time, like {@link CliIo.columns}). */
  readonly rows?: number | undefined;
  /** Aborted when the user asks the process to stop (SIGINT/SIGTERM). */
  signal: AbortSignal;
}

/** The real process's I/O; dispose it to remove the signal handlers. */
export interface ProcessIo extends CliIo, Disposable {
  /** Log lines go through a bounded queue (see {@link CliIo.log}). */
  log(line: string): void;
  /** Waits until queued log lines are written, at most `timeoutMs` (default 1 s). */
  flush(timeoutMs?: number): Promise<void>;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

function consoleSize(): { columns: number; rows: number } | undefined {
  try {
    return Deno.consoleSize();
  } catch {
    return undefined;
  }
}

/** The real process: Deno's stdout/stderr, env, and SIGINT/SIGTERM wired to `signal`. */
export function processIo(): ProcessIo {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const logs = new LogWriter((bytes) => Deno.stderr.write(bytes));
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => {
      try {
        writeAll(Deno.stderr, text);
      } catch {
        // stderr is gone (closed pipe): there is nowhere left to report anything.
      }
    },
    log: (line) => logs.line(line),
    flush: (timeoutMs) => logs.flush(timeoutMs),
    env: (name) => Deno.env.get(name),
    isTerminal: Deno.stdout.isTerminal(),
    get columns() {
      return consoleSize()?.columns;
    },
    get rows() {
      return consoleSize()?.rows;
    },
    signal: controller.signal,
    [Symbol.dispose]() {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    },
  };
}
