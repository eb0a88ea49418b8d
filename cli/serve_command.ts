/**
 * `serve`: its option table -> server options -> `startServer`; signals -> shutdown.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { createLogger, type Logger } from "../lib/log.ts";
import type { ServerOptions } from "../server/config.ts";
import type { ServerHandle } from "../server/server.ts";
import type { CliContext } from "./context.ts";
import type { CliIo } from "./io.ts";
import { SERVE_OPTIONS } from "./options/serve.ts";
import {
  addOptions,
  configFrom,
  fromCommandLine,
  type OptionValues,
  valuesOf,
} from "./options/table.ts";
import { mqttPasswordOf, resolveSecret } from "./secrets.ts";
import { printBanner } from "./serve_banner.ts";
import { startServing } from "./serve_workers.ts";

/** How long shutdown may take before the process exits anyway, ms. */
const SHUTDOWN_GRACE_MS = 5_000;

/** Parsed `serve` options. */
export type ServeValues = OptionValues<typeof SERVE_OPTIONS>;

/**
 * The server options `cmd`'s flags and environment ask for, secrets read from their files
 * (validation is the server's, before it starts). Warns on stderr about secrets typed on the
 * command line.
 */
export async function serveOptionsOf(cmd: Command, io: CliIo): Promise<ServerOptions> {
  const o = SERVE_OPTIONS;
  const values = valuesOf(cmd, o);
  const jwtSecret = await resolveSecret({ value: o.jwtSecret, file: o.jwtSecretFile }, {
    value: values.jwtSecret,
    fromCli: fromCommandLine(cmd, "jwtSecret"),
    file: values.jwtSecretFile,
  }, io);
  const mqttPassword = await mqttPasswordOf(cmd, values, io);
  return configFrom(o, { ...values, jwtSecret, mqttPassword }) as ServerOptions;
}

/** The logger the log options ask for, writing one line per event to stderr. */
export function loggerFor(values: Pick<ServeValues, "logLevel" | "logFormat">, io: CliIo): Logger {
  return createLogger({
    level: values.logLevel,
    format: values.logFormat,
    // Never blocks fan-out: a slow or closed stderr drops lines (and says how many) instead.
    write: (line) => io.log ? io.log(line) : io.stderr(line + "\n"),
  });
}

/**
 * Waits for Ctrl-C/SIGTERM (or the server ending), then drains (`--drain-delay`: `/readyz` 503
 * while clients keep streaming) and shuts down, all within the grace period.
 */
export async function serveUntilSignal(
  server: Pick<ServerHandle, "finished" | "shutdown">,
  io: CliIo,
  { drain = true }: { drain?: boolean } = {},
): Promise<void> {
  // A failed listener rejects `finished`: that ends the wait too, and is rethrown (exit 1).
  const ended = server.finished.then(() => undefined, (error: unknown) => error);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) return resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
    ended.then(() => resolve());
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    server.shutdown({ drain }),
    new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)),
  ]);
  clearTimeout(timer);
  // (`finished` settles at the end of shutdown, unless the grace period cut that short.)
  const failure = await Promise.race([ended, new Promise((r) => setTimeout(r, 0, undefined))]);
  if (failure !== undefined) throw failure;
}

/** Builds the `serve` subcommand. */
export function serveCommand(ctx: CliContext): Command {
  const cmd = new Command("serve")
    .description(
      "Run the WebSocket service and its MQTT bridge (with an embedded broker when no " +
        "--mqtt-url is given).",
    )
    .addHelpText(
      "after",
      `
Endpoints: /ws/sensors?token=JWT (WebSocket), /healthz, /readyz, /metrics (Prometheus).

Examples:
  $ sensorstream serve                                   # dev mode: embedded broker, random secret
  $ JWT_SECRET=$(openssl rand -hex 32) sensorstream serve --port 8080
  $ sensorstream serve --mqtt-url mqtt://broker.local:1883 --rate-limit 0.5
  $ MQTT_BROKER_URL=localhost MQTT_BROKER_PORT=1883 sensorstream serve   # old service's env`,
    );
  addOptions(cmd, SERVE_OPTIONS, ctx);
  return cmd.action(async (_flags, command) => {
    const io = ctx.io;
    const options = await serveOptionsOf(command as unknown as Command, io);
    const values = valuesOf(command as unknown as Command, SERVE_OPTIONS);
    const logger = loggerFor(values, io);
    const server = await startServing(options, { workers: values.workers, logger });
    printBanner(server, io);
    await serveUntilSignal(server, io);
    ctx.exitCode = 0;
  }) as unknown as Command;
}
