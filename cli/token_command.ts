/**
 * `token`: flags -> a signed HS256 JWT on stdout, and nothing else there, so
 * `TOKEN=$(sensorstream token ...)` works.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { UsageError } from "../server/errors.ts";
import { MIN_SECRET_BYTES, mintToken } from "../server/token.ts";
import type { CliContext } from "./context.ts";
import { parseLifetime, parseSensorList } from "./parse.ts";
import { JWT_SECRET, resolveSecret } from "./secrets.ts";

const HOUR_MS = 3_600_000;

/** Builds the `token` subcommand. */
export function tokenCommand(ctx: CliContext): Command {
  return new Command("token")
    .description("Print a signed JWT (HS256) for clients of `serve`, e.g. for tail or a browser.")
    .option("--sub <subject>", "subject: who the token is for", "dev")
    .addOption(
      new Option("--ttl <duration>", "lifetime, e.g. 30m, 8h, 7d").argParser(parseLifetime)
        .default(HOUR_MS, "1h"),
    )
    .addOption(
      new Option("--sensors <ids>", "only these sensors, comma-separated (default: all)")
        .argParser(parseSensorList),
    )
    .addOption(
      new Option(
        "--jwt-secret <secret>",
        `the secret serve uses (>= ${MIN_SECRET_BYTES} bytes; visible in ps: prefer the env)`,
      ).env("JWT_SECRET"),
    )
    .addOption(
      new Option("--jwt-secret-file <path>", "read the secret from a file").env("JWT_SECRET_FILE"),
    )
    .addOption(new Option("--issuer <iss>", "iss claim").env("JWT_ISSUER"))
    .addOption(new Option("--audience <aud>", "aud claim").env("JWT_AUDIENCE"))
    .addHelpText(
      "after",
      `
The secret must be the one serve runs with (JWT_SECRET). The token goes to stdout, alone.

Examples:
  $ export JWT_SECRET=$(openssl rand -hex 32)
  $ sensorstream token --sub alice --ttl 8h
  $ sensorstream token --sub kiosk --sensors V1,V3 --ttl 7d
  $ sensorstream tail --token "$(sensorstream token --sub ops)"`,
    )
    .action(async (flags, cmd) => {
      const secret = await resolveSecret(JWT_SECRET, {
        value: flags.jwtSecret,
        fromCli: cmd.getOptionValueSource("jwtSecret") === "cli",
        file: flags.jwtSecretFile,
      }, ctx.io);
      if (secret === undefined || secret === "") {
        throw new UsageError(
          "token needs the secret serve uses: set JWT_SECRET, or JWT_SECRET_FILE / " +
            "--jwt-secret-file to read it from a file " +
            `(at least ${MIN_SECRET_BYTES} bytes, e.g. export JWT_SECRET=$(openssl rand -hex 32))`,
        );
      }
      const bytes = new TextEncoder().encode(secret).length;
      if (bytes < MIN_SECRET_BYTES) {
        throw new UsageError(
          `JWT_SECRET is ${bytes} bytes; use at least ${MIN_SECRET_BYTES} ` +
            `(e.g. export JWT_SECRET=$(openssl rand -hex 32)) and run serve with the same one`,
        );
      }
      if (flags.ttl < 1_000) {
        throw new UsageError(`--ttl is ${flags.ttl} ms; use at least 1s (e.g. 30m, 1h)`);
      }
      const token = await mintToken(secret, {
        sub: flags.sub,
        ttlSec: flags.ttl / 1000,
        sensors: flags.sensors,
        issuer: flags.issuer,
        audience: flags.audience,
      });
      ctx.io.stdout(token + "\n");
      ctx.exitCode = 0;
    }) as unknown as Command;
}
