/** What every subcommand's action receives. @module */
import type { CliIo } from "./io.ts";

/** Shared state of one CLI run: its I/O and the exit code the action sets. */
export interface CliContext {
  io: CliIo;
  /** Set by the action; `runCli` returns it. */
  exitCode: number;
  /** Usage text of the subcommand being run, printed with usage errors. */
  usage?: string;
}
