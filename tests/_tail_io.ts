/** An in-memory `CliIo` for running `tail` in-process, as the tail command tests do. */
import type { CliIo } from "../cli/io.ts";

/** A {@link fakeIo}: the io, its Ctrl-C, and what was written so far. */
export interface FakeIo {
  io: CliIo;
  /** Aborting it is Ctrl-C. */
  controller: AbortController;
  stdout(): string;
  stderr(): string;
}

/** An in-memory CliIo: collects output, reads `env`, and aborts on `controller.abort()`. */
export function fakeIo(
  options: { env?: Record<string, string>; isTerminal?: boolean; rows?: number } = {},
): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const io: CliIo = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: (name) => options.env?.[name],
    isTerminal: options.isTerminal ?? false,
    columns: 100,
    rows: options.rows,
    signal: controller.signal,
  };
  return { io, controller, stdout: () => out.join(""), stderr: () => err.join("") };
}
