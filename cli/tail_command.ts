/** `tail` subcommand (placeholder until implemented). @module */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** Builds the `tail` subcommand. */
export function tailCommand(ctx: CliContext): Command {
  return new Command("tail").description("not implemented yet").action(() => {
    ctx.io.stderr("tail: not implemented yet\n");
    ctx.exitCode = 1;
  });
}
