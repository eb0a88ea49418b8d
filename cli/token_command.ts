/** `token` subcommand (placeholder until implemented). @module */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** Builds the `token` subcommand. */
export function tokenCommand(ctx: CliContext): Command {
  return new Command("token").description("not implemented yet").action(() => {
    ctx.io.stderr("token: not implemented yet\n");
    ctx.exitCode = 1;
  });
}
