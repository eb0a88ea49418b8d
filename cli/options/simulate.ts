/**
 * The options of `simulate`, each declared once; `path` is the `runSimulator` option it sets.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { OptionError } from "../../lib/errors.ts";
import { DEFAULT_SENSORS, DEFAULT_TOPIC, topicFilterProblem } from "../../protocol/mod.ts";
import { COMMAND_REPLIES, type CommandReply, type Outage } from "../../sim/mod.ts";
import { intInRange, parseDuration, parseNonNegative } from "../parse.ts";
import {
  COMMAND_ACK_TOPIC,
  COMMAND_TOPIC,
  CONNECT_TIMEOUT,
  COUNT,
  MQTT_PASSWORD,
  MQTT_PASSWORD_FILE,
  MQTT_PORT,
  MQTT_URL,
  MQTT_USERNAME,
  QOS_FLAGS,
  SENSORS,
  TOPIC,
} from "./shared.ts";
import { option } from "./table.ts";

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

/** `ID:DURATION[@START]`: the sensor id has no `:` or `@`, and the times are durations. */
const OUTAGE = /^\s*([^:@\s]+)\s*:([^@]+)(?:@(.+))?$/;

/**
 * `V3:30s` (silent for 30 s from 10 s in) or `V3:30s@1m` (from 1 min in) → an outage. Throws
 * `OptionError` for `outages`, which the CLI words as the flag (exit 2).
 */
export function parseOutage(text: string): Outage {
  const m = OUTAGE.exec(text);
  if (!m) {
    throw new OptionError(
      "outages",
      `'${text}' is not ID:DURATION[@START]; e.g. V3:30s (silent for 30 s from 10 s in) ` +
        "or V3:30s@1m (from 1 min in)",
    );
  }
  const [, sensorId, duration, start] = m;
  const time = (part: string) => {
    try {
      return parseDuration(part);
    } catch (error) {
      throw new OptionError("outages", `'${text}': ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  const durationMs = time(duration!);
  if (durationMs <= 0) {
    throw new OptionError("outages", `'${text}': the duration must be longer than 0`);
  }
  return {
    sensorId: sensorId!,
    durationMs,
    startMs: start === undefined ? undefined : time(start),
  };
}

/** Every option of `simulate`. */
export const SIMULATE_OPTIONS = {
  mqttUrl: { ...MQTT_URL, default: "mqtt://localhost:1883", path: "mqttUrl" },
  mqttPort: { ...MQTT_PORT, default: 1883, path: "mqttPort" },
  mqttUsername: { ...MQTT_USERNAME, path: "username" },
  mqttPassword: { ...MQTT_PASSWORD, path: "password" },
  mqttPasswordFile: MQTT_PASSWORD_FILE,
  sensors: {
    ...SENSORS,
    help: "comma-separated sensor ids",
    default: [...DEFAULT_SENSORS],
    defaultText: DEFAULT_SENSORS.join(","),
    path: "sensors",
  },
  topic: {
    ...TOPIC,
    help: "topic filter; '+' is replaced by the sensor id",
    parse: topicFilter,
    default: DEFAULT_TOPIC,
    path: "topic",
  },
  interval: option({
    flags: "--interval <duration>",
    help: "time between readings of each sensor (default: 1s)",
    parse: positiveDuration,
    conflicts: "rate",
    path: "intervalMs",
  }),
  rate: option({
    flags: "--rate <n>",
    help: "messages per second over all sensors",
    parse: positiveNumber,
    path: "ratePerSec",
  }),
  count: { ...COUNT, help: "stop after n messages in total", path: "count" },
  duration: option({
    flags: "--duration <duration>",
    help: "stop after this long (e.g. 30s, 5m)",
    parse: positiveDuration,
    path: "durationMs",
  }),
  invalidRatio: option({
    flags: "--invalid-ratio <ratio>",
    help: "share of malformed payloads, 0 to 1",
    parse: ratio,
    default: 0,
    path: "invalidRatio",
  }),
  seed: option({
    flags: "--seed <n>",
    help: "same seed, same readings (add --start to replay the timestamps too) " +
      "(default: random, logged)",
    parse: intInRange(0, 2 ** 32 - 1),
    path: "seed",
  }),
  timeScale: option({
    flags: "--time-scale <factor>",
    help: "simulated time runs this much faster (1440 = a day per minute)",
    parse: positiveNumber,
    default: 1,
    path: "timeScale",
  }),
  start: option({
    flags: "--start <time>",
    help: "simulated time of the first reading (default: now)",
    parse: time,
    path: "startTime",
  }),
  // Repeatable, so variadic and without `parse`: the table's parser would only keep the last
  // value. Each value is parsed (and a bad one reported as --outage, exit 2) by `toConfig`.
  outage: option<string[]>({
    flags: "--outage <spec...>",
    help: "ID:DURATION[@START]: sensor ID publishes nothing for DURATION from START into " +
      "the run (default 10s), then resumes; repeatable, e.g. V3:30s or V3:30s@1m",
    path: "outages",
    toConfig: (specs) => specs.map(parseOutage),
  }),
  commandTopic: {
    ...COMMAND_TOPIC,
    help: "MQTT topic a sensor's commands come on; '{id}' is the sensor id (only this " +
      "run's sensors are listened to)",
    path: "commandTopic",
  },
  commandAckTopic: {
    ...COMMAND_ACK_TOPIC,
    help: "MQTT topic a sensor acks its commands on; '{id}' is the sensor id " +
      "(default: the command topic + /ack)",
    path: "commandAckTopic",
  },
  commandReply: option<CommandReply>({
    flags: "--command-reply <mode>",
    env: "SIMULATE_COMMAND_REPLY",
    help: "how sensors answer irrigate: done (accepted, moisture rises, done), fail " +
      "(accepted, then failed: valve stuck), silent (no ack: the server times out), " +
      "off (not listening)",
    choices: COMMAND_REPLIES,
    default: "done",
    path: "commandReply",
  }),
  qos: option<"0" | "1">({
    flags: QOS_FLAGS,
    help: "publish QoS",
    choices: ["0", "1"],
    default: "0",
    path: "qos",
    toConfig: (q) => q === "1" ? 1 : 0,
  }),
  connectTimeout: {
    ...CONNECT_TIMEOUT,
    help: "give up when the broker is unreachable this long",
    parse: positiveDuration,
    path: "connectTimeoutMs",
  },
  quiet: option<boolean>({
    flags: "-q, --quiet",
    help: "no progress output (warnings and errors only)",
  }),
};
