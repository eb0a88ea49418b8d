/**
 * `simulate`: flags and environment -> `runSimulator`, with a one-line live status on a
 * terminal and plain log lines otherwise.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { parseBrokerUrl } from "../server/broker_url.ts";
import { UsageError } from "../server/errors.ts";
import { createLogger } from "../server/log.ts";
import { DEFAULT_SENSORS, DEFAULT_TOPIC, topicFilterProblem } from "../server/protocol.ts";
import { runSimulator, type SimulatorSummary } from "../sim/mod.ts";
import type { CliContext } from "./context.ts";
import type { CliIo } from "./io.ts";
import { MQTT_PASSWORD, resolveSecret, warnOnUrlSecret } from "./secrets.ts";
import { ProgressView, summaryText } from "./simulate_view.ts";
import {
  intInRange,
  parseDuration,
  parseNonNegative,
  parsePort,
  parseSensorList,
} from "./parse.ts";

const DEFAULT_MQTT_URL = "mqtt://localhost:1883";

function positiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new InvalidArgumentError(`'${text}' must be longer than 0`);
  return ms;
}

function positiveNumber(text: string): number {
  const n = parseNonNegative(text);
  if (n === 0) throw new InvalidArgumentError(`'${text}' must be greater than 0`);
  return n;
}

function ratio(text: string): number {
  const n = parseNonNegative(text);
  if (n > 1) throw new InvalidArgumentError(`'${text}' is not a ratio from 0 to 1 (e.g. 0.05)`);
  return n;
}

function topicFilter(text: string): string {
  const problem = topicFilterProblem(text);
  if (problem) throw new InvalidArgumentError(`'${text}' ${problem}`);
  return text;
}

function time(text: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new InvalidArgumentError(`'${text}' is not a time; use ISO 8601, e.g. 2024-06-01T00:00Z`);
  }
  return t;
}

/**
 * Broker URL from the flag, else `MQTT_BROKER_URL`; a bare host takes its port from
 * `--mqtt-port`, else `MQTT_BROKER_PORT`, else 1883.
 */
function brokerUrl(flag: string | undefined, portFlag: number | undefined, io: CliIo): string {
  const raw = flag ?? io.env("MQTT_BROKER_URL") ?? DEFAULT_MQTT_URL;
  const envPort = io.env("MQTT_BROKER_PORT");
  let port = portFlag;
  if (port === undefined && envPort !== undefined) {
    try {
      port = parsePort(envPort);
    } catch (error) {
      throw new UsageError(`MQTT_BROKER_PORT: ${(error as Error).message}`, { cause: error });
    }
  }
  // Credentials in the URL stay in it: runSimulator takes them from there.
  const broker = parseBrokerUrl(raw, port ?? 1883);
  if (broker.username === undefined) return broker.url;
  return raw.trim();
}

/** Topic filter from the flag, else `MQTT_TOPIC`, else the default. */
function topicFrom(flag: string | undefined, io: CliIo): string {
  const env = io.env("MQTT_TOPIC");
  if (flag !== undefined || env === undefined) return flag ?? DEFAULT_TOPIC;
  const problem = topicFilterProblem(env);
  if (problem) throw new UsageError(`MQTT_TOPIC '${env}' ${problem}`);
  return env;
}

/** Builds the `simulate` subcommand. */
export function simulateCommand(ctx: CliContext): Command {
  return new Command("simulate")
    .description("Publish realistic sensor readings to an MQTT broker (for demos and load tests).")
    .option(
      "--mqtt-url <url>",
      `broker URL or host [env: MQTT_BROKER_URL] (default: ${DEFAULT_MQTT_URL})`,
    )
    .option(
      "--mqtt-port <port>",
      "port for a bare-host --mqtt-url [env: MQTT_BROKER_PORT] (default: 1883)",
      parsePort,
    )
    .option("--mqtt-username <user>", "MQTT username [env: MQTT_USERNAME]")
    .option(
      "--mqtt-password <password>",
      "MQTT password [env: MQTT_PASSWORD] (visible in ps: prefer the env)",
    )
    .option(
      "--mqtt-password-file <path>",
      "read the MQTT password from a file [env: MQTT_PASSWORD_FILE]",
    )
    .addOption(
      new Option("--sensors <ids>", "comma-separated sensor ids").argParser(parseSensorList)
        .default([...DEFAULT_SENSORS], DEFAULT_SENSORS.join(",")),
    )
    .option(
      "--topic <filter>",
      `topic filter; '+' is replaced by the sensor id [env: MQTT_TOPIC] (default: ${DEFAULT_TOPIC})`,
      topicFilter,
    )
    .addOption(
      new Option("--interval <duration>", "time between readings of each sensor (default: 1s)")
        .argParser(positiveDuration).conflicts("rate"),
    )
    .option("--rate <n>", "messages per second over all sensors", positiveNumber)
    .option("--count <n>", "stop after n messages in total", intInRange(1, Number.MAX_SAFE_INTEGER))
    .option("--duration <duration>", "stop after this long (e.g. 30s, 5m)", positiveDuration)
    .option("--invalid-ratio <ratio>", "share of malformed payloads, 0 to 1", ratio, 0)
    .option(
      "--seed <n>",
      "same seed, same readings (add --start to replay the timestamps too) (default: random, logged)",
      intInRange(0, 2 ** 32 - 1),
    )
    .option(
      "--time-scale <factor>",
      "simulated time runs this much faster (1440 = a day per minute)",
      positiveNumber,
      1,
    )
    .option("--start <time>", "simulated time of the first reading (default: now)", time)
    .addOption(
      new Option("--qos <qos>", "publish QoS").choices(["0", "1"] as const).default("0" as const),
    )
    .addOption(
      new Option("--connect-timeout <duration>", "give up when the broker is unreachable this long")
        .argParser(positiveDuration).default(10_000, "10s"),
    )
    .option("-q, --quiet", "no progress output (warnings and errors only)")
    .addHelpText(
      "after",
      `
Readings follow a day/night cycle: temperature and light rise by day (light is 0 at night),
humidity moves against temperature, soil moisture dries slowly and jumps up when irrigated.

Examples:
  $ sensorstream simulate                                 # V1..V5, one reading each per second
  $ sensorstream simulate --sensors V1,V2 --interval 200ms --time-scale 1440
  $ sensorstream simulate --rate 500 --duration 1m --invalid-ratio 0.05   # load test
  $ sensorstream simulate --count 100 --seed 42 --start 2024-06-01T00:00Z --qos 1   # replayable
  $ MQTT_BROKER_URL=broker.local sensorstream simulate     # bare host = mqtt://broker.local:1883`,
    )
    .action(async (flags, cmd) => {
      const io = ctx.io;
      if (cmd.getOptionValueSource("mqttUrl") === "cli") {
        warnOnUrlSecret("--mqtt-url", flags.mqttUrl, io);
      }
      const view = new ProgressView(io, {
        quiet: flags.quiet === true,
        showClock: flags.timeScale !== 1 || flags.start !== undefined,
      });
      const logger = createLogger({
        level: flags.quiet ? "warn" : "info",
        write: (line, level) => view.log(line, level),
      });
      view.logger = logger;
      let summary: SimulatorSummary;
      try {
        summary = await runSimulator({
          mqttUrl: brokerUrl(flags.mqttUrl, flags.mqttPort, io),
          username: flags.mqttUsername ?? io.env("MQTT_USERNAME"),
          password: await resolveSecret(MQTT_PASSWORD, {
            value: flags.mqttPassword ?? io.env("MQTT_PASSWORD"),
            fromCli: cmd.getOptionValueSource("mqttPassword") === "cli",
            file: flags.mqttPasswordFile ?? io.env("MQTT_PASSWORD_FILE"),
          }, io),
          sensors: flags.sensors,
          topic: topicFrom(flags.topic, io),
          intervalMs: flags.rate === undefined ? flags.interval ?? 1_000 : undefined,
          ratePerSec: flags.rate,
          count: flags.count,
          durationMs: flags.duration,
          invalidRatio: flags.invalidRatio,
          seed: flags.seed,
          timeScale: flags.timeScale,
          startTime: flags.start,
          qos: flags.qos === "1" ? 1 : 0,
          connectTimeoutMs: flags.connectTimeout,
          signal: io.signal,
        }, { logger, onStatus: (s) => view.update(s) });
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message, { cause: error });
        throw error;
      } finally {
        view.stop();
      }
      logger.info(summaryText(summary), { seed: summary.seed });
      ctx.exitCode = 0;
    }) as unknown as Command;
}
