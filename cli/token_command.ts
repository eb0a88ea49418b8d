/**
 * `token`: its option table -> a signed HS256 JWT on stdout, and nothing else there, so
 * `TOKEN=$(sensorstream token ...)` works.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { MIN_SECRET_BYTES, type MintOptions, mintToken } from "../server/token.ts";
import type { CliContext } from "./context.ts";
import { UsageError } from "./errors.ts";
import { TOKEN_OPTIONS } from "./options/token.ts";
import { addOptions, configFrom, fromCommandLine, optionName, valuesOf } from "./options/table.ts";
import { resolveSecret } from "./secrets.ts";

/** Builds the `token` subcommand. */
export function tokenCommand(ctx: CliContext): Command {
  const cmd = new Command("token")
    .description("Print a signed JWT (HS256) for clients of `serve`, e.g. for tail or a browser.")
    .addHelpText(
      "after",
      `
The secret must be the one serve runs with (JWT_SECRET). The token goes to stdout, alone.
--commands lets the token send commands (\`sensorstream command\`); --sensors limits them too.

Examples:
  $ export JWT_SECRET=$(openssl rand -hex 32)
  $ sensorstream token --sub alice --ttl 8h
  $ sensorstream token --sub kiosk --sensors V1,V3 --ttl 7d
  $ sensorstream token --sub ops --commands irrigate --sensors V1   # may irrigate V1
  $ sensorstream tail --token "$(sensorstream token --sub ops)"`,
    );
  addOptions(cmd, TOKEN_OPTIONS, ctx);
  return cmd.action(async (_flags, command) => {
    const c = command as unknown as Command;
    const o = TOKEN_OPTIONS;
    const flags = valuesOf(c, o);
    const secret = await resolveSecret({ value: o.jwtSecret, file: o.jwtSecretFile }, {
      value: flags.jwtSecret,
      fromCli: fromCommandLine(c, "jwtSecret"),
      file: flags.jwtSecretFile,
    }, ctx.io);
    const hint = `e.g. export ${o.jwtSecret.env}=$(openssl rand -hex 32)`;
    if (secret === undefined || secret === "") {
      throw new UsageError(
        `token needs the secret serve uses: set ${o.jwtSecret.env}, or ` +
          `${optionName(o.jwtSecretFile)} to read it from a file (at least ${MIN_SECRET_BYTES} ` +
          `bytes, ${hint})`,
      );
    }
    const bytes = new TextEncoder().encode(secret).length;
    if (bytes < MIN_SECRET_BYTES) {
      throw new UsageError(
        `${optionName(o.jwtSecret)} is ${bytes} bytes; use at least ${MIN_SECRET_BYTES} ` +
          `(${hint}) and run serve with the same one`,
      );
    }
    if (flags.ttl < 1_000) {
      throw new UsageError(`--ttl is ${flags.ttl} ms; use at least 1s (e.g. 30m, 1h)`);
    }
    const token = await mintToken(secret, configFrom(o, flags) as unknown as MintOptions);
    ctx.io.stdout(token + "\n");
    ctx.exitCode = 0;
  }) as unknown as Command;
}
