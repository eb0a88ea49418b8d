/**
 * The CLI's view of the process: output streams, environment, terminal, and a signal that
 * aborts on Ctrl-C / SIGTERM. Tests pass their own to run commands in-process.
 * @module
 */

/** Where a command reads and writes. */
export interface CliIo {
  /** Writes text to standard output as is (add your own newline). */
  stdout(text: string): void;
  /** Writes text to standard error as is (add your own newline). */
  stderr(text: string): void;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** True when standard output is a terminal (live views); false when piped. */
  isTerminal: boolean;
  /** Terminal width in columns when known (read each time: the terminal may be resized). */
  readonly columns: number | undefined;
  /** Aborted when the user asks the process to stop (SIGINT/SIGTERM). */
  signal: AbortSignal;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

/** The real process: Deno's stdout/stderr, env, and SIGINT/SIGTERM wired to `signal`. */
export function processIo(): CliIo & Disposable {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    env: (name) => Deno.env.get(name),
    isTerminal: Deno.stdout.isTerminal(),
    get columns() {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return undefined;
      }
    },
    signal: controller.signal,
    [Symbol.dispose]() {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    },
  };
}
