/**
 * `command`: arguments and flags -> one command over the stream WebSocket -> one line per
 * state on stdout (or the server's messages as JSON), and the exit code from how it ended.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { escapeControl, escapeControlInJson } from "../lib/sanitize.ts";
import { COMMAND_ACTIONS, type CommandAction } from "../protocol/mod.ts";
import { MIN_SECRET_BYTES, mintToken } from "../server/token.ts";
import {
  COMMAND_MARGIN_MS,
  type CommandMessage,
  type CommandOutcome,
  formatStatus,
  randomCommandId,
  runCommand,
} from "../tail/command.ts";
import type { CliContext } from "./context.ts";
import { UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";
import { COMMAND_OPTIONS, parseCommandAction, parseSensorId } from "./options/command.ts";
import {
  addOptions,
  fromCommandLine,
  optionName,
  type OptionValues,
  valuesOf,
} from "./options/table.ts";
import { streamAccessOf, streamUrlOf } from "./stream_access.ts";

/** Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

/** How the server's reasons start when the token may not send the command. */
const NOT_PERMITTED = "not permitted";

type CommandFlags = OptionValues<typeof COMMAND_OPTIONS>;

const HELP_AFTER = `
Prints each state of the command on its own line: sent (published to the devices), accepted
(the device started), then done, failed or timeout (the device did not answer in time), or
rejected: <reason> when the server refused it; the device's detail follows a colon. Exits 0
on done, 1 otherwise, 2 on bad arguments. A connection lost after sending is not retried (a
command goes out at most once): the outcome is then unknown and the command may still run.
Ctrl-C closes the connection and exits 130; the device goes on with a command it was sent.

The token needs the commands claim for the action: \`sensorstream token --commands irrigate\`.
With JWT_SECRET, command mints its own, for this action on this sensor only.

Examples:
  $ SENSORSTREAM_TOKEN=$(sensorstream token --commands irrigate --sensors V1) \\
      sensorstream command V1 irrigate --duration 30
  $ JWT_SECRET=... sensorstream command V3 irrigate --duration 5m --sub alice
  $ sensorstream command V1 irrigate --json | jq -r .data.status`;

/** Builds the `command` subcommand. */
export function commandCommand(ctx: CliContext): Command {
  const cmd = new Command("command")
    .description("Send a command to a sensor's device (irrigate: open its valve) and follow it.")
    .argument("<sensor>", "sensor id, e.g. V1", parseSensorId)
    .argument("<action>", `what the device does: ${COMMAND_ACTIONS.join(", ")}`, parseCommandAction)
    .addHelpText("after", HELP_AFTER);
  addOptions(cmd, COMMAND_OPTIONS, ctx);
  return cmd.action(async (sensor, action, _flags, command) => {
    ctx.exitCode = await send(command as unknown as Command, { sensor, action }, ctx.io);
  }) as unknown as Command;
}

/** The action: flags -> token -> the client, printing as it goes; returns the exit code. */
async function send(
  cmd: Command,
  args: { sensor: string; action: CommandAction },
  io: CliIo,
): Promise<number> {
  const flags = valuesOf(cmd, COMMAND_OPTIONS);
  const url = streamUrlOf(flags.url);
  const runsMs = flags.duration * 1_000;
  const token = await tokenOf(cmd, flags, url, { ...args, runsMs }, io);
  const id = flags.id ?? randomCommandId();
  io.stderr(
    `command ${escapeControl(id)}: ${args.action} ${args.sensor} for ${flags.duration}s\n`,
  );
  const outcome = await runCommand({
    url: url.href,
    token,
    command: {
      id,
      sensorId: args.sensor,
      action: args.action,
      params: { duration_s: flags.duration },
    },
    runsMs,
    connectTimeoutMs: flags.connectTimeout,
    signal: io.signal,
  }, { onMessage: flags.json ? printJson(io) : printLine(io) });
  return exitCodeOf(outcome, args, io);
}

function printJson(io: CliIo): (msg: CommandMessage, raw: string) => void {
  return (_msg, raw) => io.stdout(escapeControlInJson(raw) + "\n");
}

function printLine(io: CliIo): (msg: CommandMessage, raw: string) => void {
  // The server's error reply ends the run, and its message is printed then.
  return (msg) => {
    if (msg.type === "command_status") io.stdout(formatStatus(msg.data) + "\n");
  };
}

/** Says on stderr what an ending other than `done` means, and returns the exit code. */
function exitCodeOf(
  outcome: CommandOutcome,
  { sensor, action }: { sensor: string; action: CommandAction },
  io: CliIo,
): number {
  const note = (text: string) => io.stderr(`command: ${text}\n`);
  const mayRun = `its outcome is unknown and it may still run on ${sensor}`;
  switch (outcome.kind) {
    case "ended":
      if (outcome.status === "done") return 0;
      if (outcome.status === "timeout") {
        note(`${sensor} did not report in time; check the device (it may still run)`);
      }
      if (outcome.reason?.startsWith(NOT_PERMITTED)) {
        note(
          `get a token that may: sensorstream token --commands ${action} --sensors ${sensor} ` +
            `(or give ${COMMAND_OPTIONS.jwtSecret.env} and command mints one)`,
        );
      }
      return 1;
    case "unknown":
      note(`${outcome.why}; ${mayRun}`);
      return 1;
    case "aborted":
      note(outcome.sent ? `interrupted; ${mayRun}` : "interrupted before the command was sent");
      return INTERRUPTED_EXIT;
  }
}

/**
 * The token given (flag, `?token=` in --url, variable), or one minted with the secret that may
 * send only this action to only this sensor, and lives as long as the command may take.
 */
async function tokenOf(
  cmd: Command,
  flags: CommandFlags,
  url: URL,
  command: { sensor: string; action: CommandAction; runsMs: number },
  io: CliIo,
): Promise<string> {
  const o = COMMAND_OPTIONS;
  const { given, secret } = await streamAccessOf(cmd, flags, { url, io });
  if (given) {
    if (fromCommandLine(cmd, "sub")) {
      throw new UsageError(
        "--sub names the subject of a token minted with the secret; a given token has its own",
      );
    }
    return given;
  }
  if (!secret) {
    throw new UsageError(
      `command needs a token that may send ${command.action}: set ${o.token.env} or pass ` +
        `--token (get one with \`sensorstream token --commands ${command.action} --sensors ` +
        `${command.sensor}\`), or set ${optionName(o.jwtSecret)} to the secret serve uses and ` +
        "command mints its own",
    );
  }
  // The whole run: connecting, the answer, the device's acceptance and its run, each with slack.
  const ttlMs = 2 * flags.connectTimeout + 2 * COMMAND_MARGIN_MS + command.runsMs;
  try {
    return await mintToken(secret, {
      sub: flags.sub,
      ttlSec: Math.ceil(ttlMs / 1_000),
      sensors: [command.sensor],
      commands: [command.action],
    });
  } catch (error) {
    throw new UsageError(
      `${(error as Error).message}; it must be the secret serve runs with ` +
        `(at least ${MIN_SECRET_BYTES} bytes)`,
      { cause: error },
    );
  }
}
