/**
 * `tail`: flags -> tail client -> live table, NDJSON or one line per reading.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "./errors.ts";
import { MIN_SECRET_BYTES, mintToken } from "../server/token.ts";
import { runTail, type TailOptions, type TokenSource } from "../tail/client.ts";
import { createOutput, type Output, type OutputFormat } from "../tail/output.ts";
import { commandTokenSource } from "../tail/token_command.ts";
import { displayUrl } from "../tail/url.ts";
import { SPARKLINE_WIDTH } from "../tail/view.ts";
import type { CliContext } from "./context.ts";
import type { CliIo } from "./io.ts";
import { NO_COLOR_ENV, TAIL_OPTIONS } from "./options/tail.ts";
import { addOptions, optionName, type OptionValues, valuesOf } from "./options/table.ts";
import { streamAccessOf, streamUrlOf } from "./stream_access.ts";

/**
 * Lifetime of a token `tail` mints itself; a fresh one is minted for every connection and
 * before the server's `token_expiring`.
 */
const MINTED_TTL_SEC = 12 * 3_600;

type TailFlags = OptionValues<typeof TAIL_OPTIONS>;

const HELP_AFTER = `
On a terminal tail draws a table that updates in place (NO_COLOR=1 turns colours off),
its sparklines filled from the server's history; stale sensors say "stale" and since when.
Piped, or with --json, it prints every server message as one JSON object per line.
A dropped connection is retried with backoff, and so is "try again later" (close 1013);
after a reconnect tail asks for the readings it missed ("resumed: 12 readings", or
"gap: history incomplete"). A refused token (close 1008) exits 1. The token goes in the
Authorization header; a minted one (JWT_SECRET) or one from --token-command is renewed
before it expires.

Examples:
  $ sensorstream tail --token "$(sensorstream token --sub me)"
  $ JWT_SECRET=... sensorstream tail --sensors V1,V3
  $ sensorstream tail --token-command 'vault read -field=token secret/sensorstream'
  $ sensorstream tail --format line --history 100      # the last 100 of each sensor, then live
  $ sensorstream tail --format line --url ws://sensors.example:8000/ws/sensors
  $ sensorstream tail --json --count 10 | jq -c 'select(.type == "sensor_reading") | .data'`;

/** Builds the `tail` subcommand. */
export function tailCommand(ctx: CliContext): Command {
  const cmd = new Command("tail")
    .description("Show live sensor readings from a sensorstream server.")
    .addHelpText("after", HELP_AFTER);
  addOptions(cmd, TAIL_OPTIONS, ctx);
  return cmd.action(async (_flags, command) => {
    await tail(command as unknown as Command, ctx.io);
    ctx.exitCode = 0;
  }) as unknown as Command;
}

/** The action: flags -> URL, token and output -> the client, until it ends. */
async function tail(cmd: Command, io: CliIo): Promise<void> {
  const flags = valuesOf(cmd, TAIL_OPTIONS);
  const url = streamUrlOf(flags.url);
  const token = await tokenOf(cmd, flags, url, io);
  const format = formatOf(flags, io);
  const output = createOutput({
    format,
    stdout: io.stdout,
    stderr: io.stderr,
    url: displayUrl(url),
    color: !io.env(NO_COLOR_ENV),
    columns: () => io.columns,
    rows: () => io.rows,
  });
  await stream({
    url: url.href,
    token,
    sensors: flags.sensors,
    count: flags.count,
    // The table's sparklines are what history is for; a stream prints what comes, by default.
    history: flags.history ?? (format === "table" ? SPARKLINE_WIDTH : 0),
    connectTimeoutMs: flags.connectTimeout,
    signal: io.signal,
  }, output);
}

function formatOf(flags: TailFlags, io: CliIo): OutputFormat {
  return flags.json ? "json" : flags.format ?? (io.isTerminal ? "table" : "json");
}

/**
 * The token given (flag, `?token=` in --url, variable), or a source of fresh ones: the token
 * command, or a minter from the secret.
 */
async function tokenOf(
  cmd: Command,
  flags: TailFlags,
  url: URL,
  io: CliIo,
): Promise<TailOptions["token"]> {
  const { given, from, secret } = await streamAccessOf(cmd, flags, { url, io });
  const command = flags.tokenCommand;
  if (command !== undefined) {
    if (given) {
      const other = optionName(TAIL_OPTIONS.tokenCommand);
      throw new UsageError(`a token is given (${from}) and so is ${other}: give one of them`);
    }
    return await commandSource(command);
  }
  return await resolveToken(given, { secret });
}

/**
 * The token command as a token source. It runs once now, so a command that does not work
 * stops tail before it connects; that token serves the first connection.
 */
async function commandSource(command: string): Promise<TokenSource> {
  const name = optionName(TAIL_OPTIONS.tokenCommand);
  if (command.trim() === "") throw new UsageError(`${name} is empty; give a command`);
  const source = commandTokenSource(command);
  let first: string | undefined;
  try {
    first = await source();
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
  }
  return (signal) => {
    if (first === undefined) return source(signal);
    const token = first;
    first = undefined;
    return token;
  };
}

/** Runs the client into `output`, then closes it. */
async function stream(options: TailOptions, output: Output): Promise<void> {
  // `| head -n 3` closing the pipe is how such a pipeline ends, not a failure; the same
  // closed pipe then also fails the last frame of the table.
  const failed = await runTail(options, output).then(() => undefined, (e: unknown) => e);
  try {
    output.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
  if (failed !== undefined && !(failed instanceof Deno.errors.BrokenPipe)) throw failed;
}

/** A given token, or a minter that signs a fresh one (per connection, per refresh) with `secret`. */
async function resolveToken(
  token: string | undefined,
  options: { secret: string | undefined },
): Promise<TailOptions["token"]> {
  if (token) return token;
  const secret = options.secret;
  if (!secret) {
    const { token, jwtSecret } = TAIL_OPTIONS;
    throw new UsageError(
      `tail needs a token: set ${token.env} or pass --token (get one with ` +
        `\`sensorstream token --sub me\`), or set ${optionName(jwtSecret)} to the secret serve ` +
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
