/**
 * The options of `simulate`, each declared once; `path` is the `runSimulator` option it sets.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { DEFAULT_SENSORS, DEFAULT_TOPIC, topicFilterProblem } from "../../protocol/mod.ts";
import { intInRange, parseDuration, parseNonNegative } from "../parse.ts";
import {
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
