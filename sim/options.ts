/**
 * Options of the simulator: their shape, defaults and validation (before anything connects).
 * @module
 */
import {
  commandAckTopicOf,
  commandTopic as commandTopicOf,
  commandTopicProblem,
  DEFAULT_COMMAND_TOPIC,
  DEFAULT_TOPIC,
  topicFilterProblem,
  topicMatcher,
} from "../protocol/mod.ts";
import { parseBrokerUrl } from "../lib/broker_url.ts";
import { literal, OptionError } from "../lib/errors.ts";
import { COMMAND_REPLIES, type CommandReply } from "./command_reply.ts";
import { checkOutages, type Outage } from "./outage.ts";

/** What to simulate and where to publish it. */
export interface SimulatorOptions {
  /** Broker URL, or a bare host (`localhost` → `mqtt://localhost:1883`). */
  mqttUrl: string;
  /** Port added to a bare-host `mqttUrl`. Default 1883. */
  mqttPort?: number | undefined;
  /** MQTT user name (or in `mqttUrl`, not both). */
  username?: string | undefined;
  /** MQTT password. */
  password?: string | undefined;
  /** Sensor ids; messages go to them round-robin. */
  sensors: readonly string[];
  /** Topic filter with one `+` level for the sensor id. Default `sensors/+/data`. */
  topic?: string | undefined;
  /** Time between two readings of one sensor, ms. Default 1000. Excludes `ratePerSec`. */
  intervalMs?: number | undefined;
  /** Total messages per second over all sensors. Excludes `intervalMs`. */
  ratePerSec?: number | undefined;
  /** Stop after this many messages. */
  count?: number | undefined;
  /** Stop after this much (wall-clock) time, ms. */
  durationMs?: number | undefined;
  /** Share of malformed payloads, 0–1. Default 0. */
  invalidRatio?: number | undefined;
  /** PRNG seed; the same seed replays the same readings. Default: a random one (reported). */
  seed?: number | undefined;
  /** Simulated time runs this many times faster than real time. Default 1. */
  timeScale?: number | undefined;
  /** Simulated time of the first reading, ms since the epoch. Default: now. */
  startTime?: number | undefined;
  /** Publish QoS. Default 0. */
  qos?: 0 | 1 | undefined;
  /**
   * Sensors that publish nothing for a while, then resume (each one of `sensors`). Readings
   * withheld do not count towards `count`. Default: none.
   */
  outages?: readonly Outage[] | undefined;
  /**
   * Topic of each station's commands; `{id}` is the sensor id. Default `sensors/{id}/commands`.
   * The simulator subscribes to its own sensors' topics only.
   */
  commandTopic?: string | undefined;
  /** Topic the stations ack commands on; `{id}` is the sensor id. Default: command topic + `/ack`. */
  commandAckTopic?: string | undefined;
  /**
   * How stations answer an `irrigate`: `done` (accepted, moisture rises, done), `fail`
   * (accepted, then failed: valve stuck), `silent` (no ack: the server times out) or `off`
   * (not subscribed to commands at all). Default `done`.
   */
  commandReply?: CommandReply | undefined;
  /** Give up connecting (and flushing at the end) after this long, ms. Default 10000. */
  connectTimeoutMs?: number | undefined;
  /** Stops the run; the simulator flushes what it sent and returns normally. */
  signal?: AbortSignal | undefined;
}

/** Options with defaults filled in and the broker URL normalized. */
export type ResolvedOptions = SimulatorOptions & {
  intervalMs: number;
  invalidRatio: number;
  seed: number;
  timeScale: number;
  qos: 0 | 1;
  connectTimeoutMs: number;
  topic: string;
  outages: readonly Outage[];
  commandTopic: string;
  commandAckTopic: string;
  commandReply: CommandReply;
};

/**
 * Checks options once, before anything connects; throws `OptionError` naming the option
 * (`intervalMs`, `mqttUrl`, …), whose message says what is allowed.
 */
export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const broker = brokerOf(options);
  const o = {
    ...options,
    mqttUrl: broker.url,
    username: broker.username ?? options.username,
    password: broker.username !== undefined ? broker.password : options.password,
  };
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
      throw new OptionError(name, `must be a number > 0, got ${v}`);
    }
  };
  if (o.sensors.length === 0) throw new OptionError("sensors", "must name at least one sensor");
  if (o.intervalMs !== undefined && o.ratePerSec !== undefined) {
    throw new OptionError("intervalMs", "and {ratePerSec} are both set; give one");
  }
  positive("intervalMs", o.intervalMs);
  positive("ratePerSec", o.ratePerSec);
  positive("timeScale", o.timeScale);
  positive("connectTimeoutMs", o.connectTimeoutMs);
  if (o.count !== undefined && !(Number.isInteger(o.count) && o.count >= 0)) {
    throw new OptionError("count", `must be a whole number >= 0, got ${o.count}`);
  }
  if (o.durationMs !== undefined && !(o.durationMs >= 0)) {
    throw new OptionError("durationMs", `must be >= 0, got ${o.durationMs}`);
  }
  const invalidRatio = o.invalidRatio ?? 0;
  if (!(invalidRatio >= 0 && invalidRatio <= 1)) {
    throw new OptionError("invalidRatio", `must be from 0 to 1, got ${invalidRatio}`);
  }
  const outages = o.outages ?? [];
  checkOutages(outages, o.sensors);
  const topic = o.topic ?? DEFAULT_TOPIC;
  const problem = topicFilterProblem(topic);
  if (problem) throw new OptionError("topic", `'${topic}' ${problem}`);
  const commandTopic = o.commandTopic ?? DEFAULT_COMMAND_TOPIC;
  const commandAckTopic = o.commandAckTopic ?? commandAckTopicOf(commandTopic);
  checkCommandTopic("commandTopic", commandTopic, topic);
  checkCommandTopic("commandAckTopic", commandAckTopic, topic);
  if (commandTopic === commandAckTopic) {
    throw new OptionError(
      "commandAckTopic",
      `must differ from {commandTopic} ('${literal(commandTopic)}')`,
    );
  }
  const commandReply = o.commandReply ?? "done";
  if (!COMMAND_REPLIES.includes(commandReply)) {
    throw new OptionError(
      "commandReply",
      `must be one of ${COMMAND_REPLIES.join(", ")}, got ${JSON.stringify(commandReply)}`,
    );
  }
  return {
    ...o,
    topic,
    outages,
    commandTopic,
    commandAckTopic,
    commandReply,
    invalidRatio,
    intervalMs: o.intervalMs ?? 1_000,
    seed: o.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!,
    timeScale: o.timeScale ?? 1,
    qos: o.qos ?? 0,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
  };
}

/** A command (or ack) topic template is usable and is not where readings go. */
function checkCommandTopic(name: string, template: string, readingFilter: string): void {
  const problem = commandTopicProblem(template);
  if (problem) throw new OptionError(name, literal(`'${template}' ${problem}`));
  if (topicMatcher(readingFilter)(commandTopicOf(template, "V1")) !== undefined) {
    throw new OptionError(
      name,
      `'${literal(template)}' would mix with the readings on {topic}; use a topic of its own`,
    );
  }
}

/** The broker URL parsed, its credentials out of it (given once: in the URL or apart). */
function brokerOf(options: SimulatorOptions): ReturnType<typeof parseBrokerUrl> {
  let broker: ReturnType<typeof parseBrokerUrl>;
  try {
    broker = parseBrokerUrl(options.mqttUrl, options.mqttPort ?? 1883);
  } catch (error) {
    throw new OptionError("mqttUrl", (error as Error).message, { cause: error });
  }
  if (broker.username !== undefined && options.username !== undefined) {
    throw new OptionError(
      "mqttUrl",
      "carries credentials and {username} is set too; give them once",
    );
  }
  return broker;
}
