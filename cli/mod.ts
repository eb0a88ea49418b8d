/**
 * The `sensorstream` command line: builds the commander program from one module per
 * subcommand and maps errors to exit codes (usage: 2, startup failure: 1).
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { OptionError, StartupError } from "../lib/errors.ts";
import { escapeControl } from "../lib/sanitize.ts";
import { UsageError } from "./errors.ts";
import type { CliContext } from "./context.ts";
import { type CliIo, processIo } from "./io.ts";
import { usageErrorOf, worded } from "./options/table.ts";
import { commandCommand } from "./command_command.ts";
import { demoCommand } from "./demo_command.ts";
import { serveCommand } from "./serve_command.ts";
import { simulateCommand } from "./simulate_command.ts";
import { tailCommand } from "./tail_command.ts";
import { tokenCommand } from "./token_command.ts";

/** Version printed by `--version`. */
export const VERSION = "0.1.0";

/** The subcommands, in the order help lists them. */
const SUBCOMMANDS = [
  serveCommand,
  simulateCommand,
  tailCommand,
  commandCommand,
  tokenCommand,
  demoCommand,
];

/** Builds the program; exported so tests can inspect help text. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("sensorstream")
    .description(
      "Stream live IoT sensor readings from MQTT to browsers and terminals over WebSocket.",
    )
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(quotedArgsMasked(s)),
    })
    .exitOverride()
    .hook("preAction", (_program, action) => {
      ctx.usage = usageOf(action);
    });
  for (const make of SUBCOMMANDS) {
    const cmd = make(ctx);
    cmd.copyInheritedSettings(program);
    cmd.showHelpAfterError(usageOf(cmd));
    program.addCommand(cmd);
  }
  return program;
}

/** The usage line of a subcommand and where to read more. */
function usageOf(cmd: { name(): string; usage(): string }): string {
  return `Usage: sensorstream ${cmd.name()} ${cmd.usage()}\n` +
    `Run 'sensorstream ${cmd.name()} --help' for every option and examples.`;
}

/** Runs the CLI with `args` (without the program name) and returns the exit code. */
export async function runCli(args: string[], io?: CliIo): Promise<number> {
  const owned = io ? undefined : processIo();
  const ctx: CliContext = { io: io ?? owned!, exitCode: 0 };
  try {
    if (args.length === 0) {
      ctx.io.stderr(buildProgram(ctx).helpInformation());
      return 2;
    }
    await buildProgram(ctx).parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    // Log lines still queued come before the error that ended the run.
    await owned?.flush();
    return exitCodeFor(inCliWords(error, ctx), ctx.io, ctx.usage);
  } finally {
    // A short command's last log lines, unless stderr is stuck (the flush is time-bounded).
    await owned?.flush();
    owned?.[Symbol.dispose]();
  }
}

/** The library names options by their config path; the CLI says them as flag and variable. */
function inCliWords(error: unknown, ctx: CliContext): unknown {
  if (!ctx.options) return error;
  if (error instanceof OptionError) return usageErrorOf(error, ctx.options);
  if (error instanceof StartupError) {
    return new StartupError(worded(error.template, ctx.options), { cause: error.cause });
  }
  return error;
}

function exitCodeFor(error: unknown, io: CliIo, usage: string | undefined): number {
  if (error instanceof OptionError) error = new UsageError(error.message, { cause: error });
  if (error instanceof CommanderError) {
    // commander has already printed its message (and usage) to stderr.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
    return 2;
  }
  if (error instanceof UsageError) {
    io.stderr(
      `error: ${escapeControl(error.message)}\n${usage ?? "(run with --help for usage)"}\n`,
    );
    return error.exitCode;
  }
  // Everything else, StartupError included (its message names the fix), exits 1.
  const e = error instanceof Error ? error : new Error(String(error));
  // Messages may quote a server or broker (close reasons, errors): no raw controls.
  io.stderr(`error: ${escapeControl(e.message)}\n`);
  return 1;
}

/**
 * commander's error text with what it quotes from the command line made safe: the value of a
 * mistyped `--option=value` (it may be a secret: `--jwt-secrt=…`) and stray arguments are
 * masked, and control characters are escaped line by line.
 */
export function quotedArgsMasked(text: string): string {
  return text
    .replace(/(unknown option '[^'=]*=)[^']*'/g, "$1***'")
    .replace(/(but got \d+: ).*?(\.?)$/gm, "$1***$2")
    .split("\n").map(escapeControl).join("\n");
}
