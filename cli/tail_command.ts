/**
 * `tail`: flags -> tail client -> live table, NDJSON or one line per reading.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { UsageError } from "../server/errors.ts";
import { MIN_SECRET_BYTES, mintToken } from "../server/token.ts";
import { runTail, type TailOptions } from "../tail/client.ts";
import { createOutput, type OutputFormat } from "../tail/output.ts";
import { DEFAULT_STREAM_URL, displayUrl, normalizeStreamUrl, tokenInUrl } from "../tail/url.ts";
import type { CliContext } from "./context.ts";
import { intInRange, parseDuration, parseSensorList } from "./parse.ts";
import { JWT_SECRET, resolveSecret, TOKEN } from "./secrets.ts";

/** Lifetime of a token `tail` mints itself; a fresh one is minted for every connection. */
const MINTED_TTL_SEC = 12 * 3_600;

/** Builds the `tail` subcommand. */
export function tailCommand(ctx: CliContext): Command {
  return new Command("tail")
    .description("Show live sensor readings from a sensorstream server.")
    .option("--url <url>", "WebSocket endpoint of serve", DEFAULT_STREAM_URL)
    .option(
      "--token <jwt>",
      "access token (default: $SENSORSTREAM_TOKEN, which stays out of the process list)",
    )
    .option(
      "--jwt-secret <secret>",
      "mint a token locally with the secret serve uses (default: $JWT_SECRET)",
    )
    .option(
      "--jwt-secret-file <path>",
      "read that secret from a file (default: $JWT_SECRET_FILE)",
    )
    .addOption(
      new Option("--sensors <ids>", "only these sensors, comma-separated, e.g. V1,V3")
        .argParser(parseSensorList),
    )
    .addOption(
      new Option(
        "--format <format>",
        "table (terminal default), json (NDJSON, piped default), line",
      )
        .choices(["table", "json", "line"] as const),
    )
    .option("--json", "same as --format json")
    .addOption(
      new Option("--count <n>", "exit after this many readings")
        .argParser(intInRange(1, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option(
        "--connect-timeout <duration>",
        "give up when serve cannot be reached for this long",
      )
        .argParser(parseDuration).default(10_000, "10s"),
    )
    .addHelpText(
      "after",
      `
On a terminal tail draws a table that updates in place (NO_COLOR=1 turns colours off);
piped, or with --json, it prints every server message as one JSON object per line.
A dropped connection is retried with backoff, and so is "try again later" (close 1013);
a refused token (close 1008) exits 1. The token goes in the Authorization header.

Examples:
  $ sensorstream tail --token "$(sensorstream token --sub me)"
  $ JWT_SECRET=... sensorstream tail --sensors V1,V3
  $ sensorstream tail --format line --url ws://sensors.example:8000/ws/sensors
  $ sensorstream tail --json --count 10 | jq -c 'select(.type == "sensor_reading") | .data'`,
    )
    .action(async (flags, cmd) => {
      const io = ctx.io;
      let url: URL;
      try {
        url = normalizeStreamUrl(flags.url);
      } catch (error) {
        throw new UsageError(`--url: ${(error as Error).message}`, { cause: error });
      }
      // A `?token=` in --url (the banner of serve prints one) is sent as a header instead.
      const fromCli = (key: string) => cmd.getOptionValueSource(key) === "cli";
      const given = await resolveSecret(TOKEN, {
        value: flags.token ?? tokenInUrl(url) ?? io.env("SENSORSTREAM_TOKEN"),
        fromCli: fromCli("token"),
      }, io);
      const token = await resolveToken(given, {
        secret: await resolveSecret(JWT_SECRET, {
          value: flags.jwtSecret ?? io.env("JWT_SECRET"),
          fromCli: fromCli("jwtSecret"),
          file: flags.jwtSecretFile ?? io.env("JWT_SECRET_FILE"),
        }, io),
      });
      const format: OutputFormat = flags.json
        ? "json"
        : flags.format ?? (io.isTerminal ? "table" : "json");
      const output = createOutput({
        format,
        stdout: io.stdout,
        stderr: io.stderr,
        url: displayUrl(url),
        color: !io.env("NO_COLOR"),
        columns: () => io.columns,
        rows: () => io.rows,
      });
      const options: TailOptions = {
        url: url.href,
        token,
        sensors: flags.sensors,
        count: flags.count,
        connectTimeoutMs: flags.connectTimeout,
        signal: io.signal,
      };
      // `| head -n 3` closing the pipe is how such a pipeline ends, not a failure; the same
      // closed pipe then also fails the last frame of the table.
      const failed = await runTail(options, output).then(() => undefined, (e: unknown) => e);
      try {
        output.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      }
      if (failed !== undefined && !(failed instanceof Deno.errors.BrokenPipe)) throw failed;
      ctx.exitCode = 0;
    }) as unknown as Command;
}

/** A given token, or a minter that signs a fresh one per connection with `secret`. */
async function resolveToken(
  token: string | undefined,
  options: { secret: string | undefined },
): Promise<TailOptions["token"]> {
  if (token) return token;
  const secret = options.secret;
  if (!secret) {
    throw new UsageError(
      "tail needs a token: pass --token or set SENSORSTREAM_TOKEN (get one with " +
        "`sensorstream token --sub me`), or set JWT_SECRET / --jwt-secret to the secret serve " +
        "uses and tail mints its own",
    );
  }
  const mint = () => mintToken(secret, { sub: "tail", ttlSec: MINTED_TTL_SEC });
  try {
    await mint();
  } catch (error) {
    throw new UsageError(
      `${(error as Error).message}; it must be the secret serve runs with ` +
        `(at least ${MIN_SECRET_BYTES} bytes)`,
      { cause: error },
    );
  }
  return mint;
}
