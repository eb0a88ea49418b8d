/** `serve` subcommand (placeholder until implemented). @module */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** Builds the `serve` subcommand. */
export function serveCommand(ctx: CliContext): Command {
  return new Command("serve").description("not implemented yet").action(() => {
    ctx.io.stderr("serve: not implemented yet\n");
    ctx.exitCode = 1;
  });
}
