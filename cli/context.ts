/** What every subcommand's action receives. @module */
import type { CliIo } from "./io.ts";
import type { OptionTable } from "./options/table.ts";

/** Shared state of one CLI run: its I/O and the exit code the action sets. */
export interface CliContext {
  io: CliIo;
  /** Set by the action; `runCli` returns it. */
  exitCode: number;
  /** Usage text of the subcommand being run, printed with usage errors. */
  usage?: string;
  /** Option table of the subcommand being run, to word the library's option errors. */
  options?: OptionTable;
}
