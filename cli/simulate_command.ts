/** `simulate` subcommand (placeholder until implemented). @module */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** Builds the `simulate` subcommand. */
export function simulateCommand(ctx: CliContext): Command {
  return new Command("simulate").description("not implemented yet").action(() => {
    ctx.io.stderr("simulate: not implemented yet\n");
    ctx.exitCode = 1;
  });
}
