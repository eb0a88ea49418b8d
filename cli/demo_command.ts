/** `demo` subcommand (placeholder until implemented). @module */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** Builds the `demo` subcommand. */
export function demoCommand(ctx: CliContext): Command {
  return new Command("demo").description("not implemented yet").action(() => {
    ctx.io.stderr("demo: not implemented yet\n");
    ctx.exitCode = 1;
  });
}
