/**
 * `serve`: flags and environment -> server options -> `startServer`; signals -> shutdown.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { DEFAULT_CONFIG, type ServerOptions } from "../server/config.ts";
import {
  createLogger,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
} from "../server/log.ts";
import { redactUrl } from "../lib/secrets.ts";
import { type ServerHandle, startServer } from "../server/server.ts";
import type { CliContext } from "./context.ts";
import type { CliIo } from "./io.ts";
import { intInRange, parseBoolean, parsePort, parseSeconds } from "./parse.ts";
import { JWT_SECRET, MQTT_PASSWORD, resolveSecret, warnOnUrlSecret } from "./secrets.ts";

const d = DEFAULT_CONFIG;
/** How long shutdown may take before the process exits anyway, ms. */
const SHUTDOWN_GRACE_MS = 5_000;

/** Options shared by `serve` and `demo`. */
// deno-lint-ignore explicit-module-boundary-types -- the option types are inferred by commander
export function addServeOptions(cmd: Command) {
  return cmd
    .addOption(
      new Option("--port <port>", "HTTP/WebSocket port").env("PORT").argParser(parsePort)
        .default(d.port),
    )
    .addOption(new Option("--hostname <host>", "interface to bind").env("HOST").default(d.hostname))
    .addOption(
      new Option(
        "--mqtt-url <url>",
        "MQTT broker (mqtt://, mqtts://, ws://, wss:// or a bare host); unset = embedded broker",
      ).env("MQTT_BROKER_URL"),
    )
    .addOption(
      new Option(
        "--mqtt-port <port>",
        "embedded broker port (or the port of a bare-host --mqtt-url)",
      )
        .env("MQTT_BROKER_PORT").argParser(parsePort).default(d.mqtt.embeddedPort),
    )
    .addOption(new Option("--mqtt-username <user>", "MQTT username").env("MQTT_USERNAME"))
    .addOption(
      new Option("--mqtt-password <password>", "MQTT password (visible in ps: prefer the env)")
        .env("MQTT_PASSWORD"),
    )
    .addOption(
      new Option("--mqtt-password-file <path>", "read the MQTT password from a file")
        .env("MQTT_PASSWORD_FILE"),
    )
    .addOption(
      new Option("--topic <filter>", "MQTT topic filter; its '+' level is the sensor id")
        .env("MQTT_TOPIC").default(d.mqtt.topic),
    )
    .addOption(
      new Option("--qos <qos>", "MQTT subscription QoS").env("MQTT_QOS").argParser(intInRange(0, 2))
        .default(d.mqtt.qos),
    )
    .addOption(
      new Option("--rate-limit <seconds>", "per-sensor throttle window; 0 = off")
        .env("WEBSOCKET_RATE_LIMIT_SECONDS").argParser(parseSeconds)
        .default(d.limits.rateLimitMs / 1000),
    )
    .addOption(
      new Option(
        "--jwt-secret <secret>",
        "HS256 secret (>= 32 bytes; visible in ps: prefer the env); unset = dev mode",
      ).env("JWT_SECRET"),
    )
    .addOption(
      new Option("--jwt-secret-file <path>", "read the HS256 secret from a file")
        .env("JWT_SECRET_FILE"),
    )
    .addOption(new Option("--jwks-url <url>", "JWKS URL for RS256/ES256/EdDSA").env("JWT_JWKS_URL"))
    .addOption(new Option("--jwt-issuer <iss>", "required token issuer").env("JWT_ISSUER"))
    .addOption(new Option("--jwt-audience <aud>", "required token audience").env("JWT_AUDIENCE"))
    .addOption(
      new Option("--jwt-allow-no-exp [bool]", "accept tokens without exp (they never expire)")
        .env("JWT_ALLOW_NO_EXP").argParser(parseBoolean).default(false),
    )
    .addOption(
      new Option(
        "--max-buffered-bytes <bytes>",
        "send buffer above which a client gets only latest values",
      )
        .env("WS_MAX_BUFFERED_BYTES").argParser(intInRange(1, 2 ** 31))
        .default(d.limits.maxBufferedBytes),
    )
    .addOption(
      new Option("--slow-client-timeout <seconds>", "close a client that cannot drain (1013) after")
        .env("WS_SLOW_CLIENT_TIMEOUT_SECONDS").argParser(parseSeconds)
        .default(d.limits.slowClientTimeoutMs / 1000),
    )
    .addOption(
      new Option("--idle-timeout <seconds>", "ping interval; peers that do not answer are dropped")
        .env("WS_IDLE_TIMEOUT_SECONDS").argParser(parseSeconds)
        .default(d.limits.idleTimeoutMs / 1000),
    )
    .addOption(
      new Option("--max-clients <n>", "most concurrent WebSocket clients").env("WS_MAX_CLIENTS")
        .argParser(intInRange(1, 1_000_000)).default(d.limits.maxClients),
    )
    .addOption(
      new Option("--log-level <level>", "lowest level logged").env("LOG_LEVEL")
        .choices(LOG_LEVELS).default(d.log.level),
    )
    .addOption(
      new Option("--log-format <format>", "log line format").env("LOG_FORMAT")
        .choices(["pretty", "json"] as const).default(d.log.format),
    );
}

/** Parsed `serve` flags. */
export type ServeFlags = ReturnType<ReturnType<typeof addServeOptions>["opts"]>;

/** How commander tells where an option's value came from. */
export interface OptionSources {
  getOptionValueSource(key: string): string | undefined;
}

/**
 * Maps parsed flags to server options, reading secret files (validation is the server's,
 * before it starts). Warns on stderr about secrets typed on the command line.
 */
export async function serveOptionsFromFlags(
  flags: ServeFlags,
  sources: OptionSources,
  io: CliIo,
): Promise<ServerOptions> {
  const fromCli = (key: string) => sources.getOptionValueSource(key) === "cli";
  if (fromCli("mqttUrl")) warnOnUrlSecret("--mqtt-url", flags.mqttUrl, io);
  const secret = await resolveSecret(JWT_SECRET, {
    value: flags.jwtSecret,
    fromCli: fromCli("jwtSecret"),
    file: flags.jwtSecretFile,
  }, io);
  const password = await resolveSecret(MQTT_PASSWORD, {
    value: flags.mqttPassword,
    fromCli: fromCli("mqttPassword"),
    file: flags.mqttPasswordFile,
  }, io);
  return {
    port: flags.port,
    hostname: flags.hostname,
    mqtt: {
      url: flags.mqttUrl,
      embeddedPort: flags.mqttPort,
      username: flags.mqttUsername,
      password,
      topic: flags.topic,
      qos: flags.qos as 0 | 1 | 2,
    },
    auth: {
      secret,
      jwksUrl: flags.jwksUrl,
      issuer: flags.jwtIssuer,
      audience: flags.jwtAudience,
      allowNoExp: flags.jwtAllowNoExp === true,
    },
    limits: {
      rateLimitMs: Math.round(flags.rateLimit * 1000),
      maxBufferedBytes: flags.maxBufferedBytes,
      slowClientTimeoutMs: Math.round(flags.slowClientTimeout * 1000),
      idleTimeoutMs: Math.round(flags.idleTimeout * 1000),
      maxClients: flags.maxClients,
    },
    log: { level: flags.logLevel as LogLevel, format: flags.logFormat as LogFormat },
  };
}

/** The logger `--log-level` / `--log-format` ask for, writing one line per event to stderr. */
export function loggerFor(flags: Pick<ServeFlags, "logLevel" | "logFormat">, io: CliIo): Logger {
  return createLogger({
    level: flags.logLevel as LogLevel,
    format: flags.logFormat as LogFormat,
    // Never blocks fan-out: a slow or closed stderr drops lines (and says how many) instead.
    write: (line) => io.log ? io.log(line) : io.stderr(line + "\n"),
  });
}

/** Starts the server from flags with a logger on stderr. */
export async function startFromFlags(
  flags: ServeFlags,
  sources: OptionSources,
  io: CliIo,
): Promise<ServerHandle> {
  const options = await serveOptionsFromFlags(flags, sources, io);
  return await startServer(options, { logger: loggerFor(flags, io) });
}

/**
 * The `tail` command line for a stream, token in the environment (not `--token`): an
 * environment variable stays out of the process list.
 */
export function tailCommandLine(wsUrl: string, token: string): string {
  return `SENSORSTREAM_TOKEN=${token} deno task tail --url ${wsUrl}`;
}

/** The `simulate` command line for the server's broker (credentials, if any, from the env). */
export function simulateCommandLine(server: ServerHandle): string {
  const auth = server.mqttAuth ? " (with MQTT_USERNAME and MQTT_PASSWORD set as for serve)" : "";
  return `deno task simulate --mqtt-url ${redactUrl(server.mqttUrl)}${auth}`;
}

/** Prints where to connect; in dev mode, the generated token and a warning. */
export function printBanner(server: ServerHandle, io: CliIo): void {
  const lines = [
    `sensorstream serving ${server.wsUrl}`,
    `MQTT broker: ${redactUrl(server.mqttUrl)}` +
    (server.embeddedBroker ? " (embedded)" : ""),
  ];
  if (server.dev) {
    lines.push(
      "",
      "WARNING: no JWT_SECRET or JWT_JWKS_URL set: using a random secret for this run.",
      "This is for development only; set JWT_SECRET (>= 32 bytes) in production.",
      `Token (valid 24 h):  ${server.dev.token}`,
      `WebSocket URL:       ${server.wsUrl}?token=${server.dev.token}`,
      `Tail it:             ${tailCommandLine(server.wsUrl, server.dev.token)}`,
    );
  }
  lines.push(`Publish test data:   ${simulateCommandLine(server)}`, "");
  io.stdout(lines.join("\n") + "\n");
}

/** Waits for Ctrl-C/SIGTERM (or the server ending), then shuts down within the grace period. */
export async function serveUntilSignal(server: ServerHandle, io: CliIo): Promise<void> {
  // A failed listener rejects `finished`: that ends the wait too, and is rethrown (exit 1).
  const ended = server.finished.then(() => undefined, (error: unknown) => error);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) return resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
    ended.then(() => resolve());
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    server.shutdown(),
    new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)),
  ]);
  clearTimeout(timer);
  // (`finished` settles at the end of shutdown, unless the grace period cut that short.)
  const failure = await Promise.race([ended, new Promise((r) => setTimeout(r, 0, undefined))]);
  if (failure !== undefined) throw failure;
}

/** Builds the `serve` subcommand. */
export function serveCommand(ctx: CliContext): Command {
  return addServeOptions(new Command("serve"))
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
    )
    .action(async (flags, cmd) => {
      const server = await startFromFlags(flags, cmd, ctx.io);
      printBanner(server, ctx.io);
      await serveUntilSignal(server, ctx.io);
      ctx.exitCode = 0;
    }) as unknown as Command;
}
