/**
 * Validation of the server configuration, once, before anything starts. Every refusal is an
 * `OptionError` naming the config path, the value (never a secret) and what is allowed; the
 * CLI words the path as its flag and environment variable.
 * @module
 */
import { parseBrokerUrl } from "../lib/broker_url.ts";
import { MAX_TIMER_MS } from "../lib/clock.ts";
import { literal, OptionError } from "../lib/errors.ts";
import { LOG_LEVELS } from "../lib/log.ts";
import {
  commandAckTopicOf,
  commandTopic,
  commandTopicProblem,
  DEFAULT_COMMAND_TOPIC,
  topicFilterProblem,
  topicMatcher,
} from "../protocol/mod.ts";
import {
  type AuthConfig,
  type CommandsConfig,
  type LimitsConfig,
  MAX_DRAIN_DELAY_MS,
  type MqttConfig,
  type ServerConfig,
  type StreamConfig,
} from "./config.ts";
import { MIN_SECRET_BYTES } from "./token.ts";

const shown = (v: unknown) => typeof v === "string" ? `'${v}'` : String(v);
const bad = (path: string, value: string, allowed: string) =>
  new OptionError(path, `is ${value}; ${allowed}`);

function port(path: string, v: number): void {
  if (Number.isInteger(v) && v >= 0 && v <= 65_535) return;
  throw bad(path, shown(v), "use a whole number from 0 to 65535 (0 = any free port)");
}
function count(path: string, v: number, unit = ""): void {
  if (!Number.isInteger(v) || v < 1) throw bad(path, shown(v), `use a whole number${unit} >= 1`);
}
/** Durations in ms, at most what a timer holds ({@link MAX_TIMER_MS}). */
function duration(path: string, ms: number, min: ">= 0" | "> 0", note = ""): void {
  const value = typeof ms === "number" ? `${ms} ms` : shown(ms);
  if (Number.isFinite(ms) && ms > MAX_TIMER_MS) {
    throw bad(path, value, `the longest a timer can hold is ${MAX_TIMER_MS} ms (about 24 days)`);
  }
  if (Number.isFinite(ms) && (ms > 0 || (min === ">= 0" && ms === 0))) return;
  throw bad(path, value, `use a number of ms ${min}${note}`);
}
function text(path: string, v: string | undefined, unset: string): void {
  if (v !== undefined && (typeof v !== "string" || v.trim() === "")) {
    throw bad(path, "empty", `give a value, or ${unset}`);
  }
}
function isHttpUrl(v: string): boolean {
  const url = typeof v === "string" ? URL.parse(v) : null;
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") &&
    url.hostname !== "";
}

/**
 * Checks every field and returns a copy with the broker URL normalized and its credentials
 * taken out of it. Throws `OptionError`.
 */
export function validateConfig(config: ServerConfig): ServerConfig {
  port("port", config.port);
  text("hostname", config.hostname ?? "", "leave it unset to bind 0.0.0.0");
  checkDrainDelay(config.drainDelayMs);
  const mqtt = checkMqtt(config.mqtt);
  checkAuth(config.auth);
  checkLimits(config.limits);
  checkStream(config.stream);
  const commands = checkCommands(config.commands, mqtt.topic);
  const { log } = config;
  if (!LOG_LEVELS.includes(log.level)) {
    throw bad("log.level", shown(log.level), `use one of ${LOG_LEVELS.join(", ")}`);
  }
  if (log.format !== "pretty" && log.format !== "json") {
    throw bad("log.format", shown(log.format), "use pretty or json");
  }
  return {
    ...config,
    mqtt,
    auth: { ...config.auth },
    limits: { ...config.limits },
    stream: { ...config.stream },
    commands,
    log: { ...log },
  };
}

function checkDrainDelay(ms: number): void {
  duration("drainDelayMs", ms, ">= 0", " (0 closes clients at once)");
  if (ms > MAX_DRAIN_DELAY_MS) {
    throw bad(
      "drainDelayMs",
      `${ms} ms`,
      `use at most ${MAX_DRAIN_DELAY_MS} ms, so that stopping ends within 5 s (make the load ` +
        `balancer's health check faster instead)`,
    );
  }
}

function checkMqtt(mqtt: MqttConfig): MqttConfig {
  port("mqtt.embeddedPort", mqtt.embeddedPort);
  text("mqtt.embeddedHostname", mqtt.embeddedHostname ?? "", "leave it unset to bind 127.0.0.1");
  let broker: ReturnType<typeof parseBrokerUrl> | undefined;
  try {
    broker = mqtt.url === undefined ? undefined : parseBrokerUrl(mqtt.url, mqtt.embeddedPort);
  } catch (error) {
    throw new OptionError("mqtt.url", (error as Error).message, { cause: error });
  }
  const fromUrl = broker?.username !== undefined;
  if (fromUrl && (mqtt.username !== undefined || mqtt.password !== undefined)) {
    throw new OptionError(
      "mqtt.url",
      "carries credentials and {mqtt.username} or {mqtt.password} is set too; give them once " +
        "(the separate options keep the password out of the URL)",
    );
  }
  const username = fromUrl ? broker!.username : mqtt.username;
  const password = fromUrl ? broker!.password : mqtt.password;
  if (password !== undefined && !username) {
    throw new OptionError("mqtt.password", "is set without a username; also set {mqtt.username}");
  }
  const problem = typeof mqtt.topic === "string" ? topicFilterProblem(mqtt.topic) : "is no string";
  if (problem) throw bad("mqtt.topic", shown(mqtt.topic), `it ${problem} (e.g. sensors/+/data)`);
  if (![0, 1, 2].includes(mqtt.qos)) throw bad("mqtt.qos", shown(mqtt.qos), "use 0, 1 or 2");
  const id = mqtt.clientId;
  if (id !== undefined && (typeof id !== "string" || !/^[\x21-\x7e]{1,64}$/.test(id))) {
    throw bad("mqtt.clientId", "not 1–64 printable ASCII characters", "e.g. sensorstream-1");
  }
  duration("mqtt.reconnectMinMs", mqtt.reconnectMinMs, "> 0");
  duration("mqtt.reconnectMaxMs", mqtt.reconnectMaxMs, "> 0");
  if (mqtt.reconnectMaxMs < mqtt.reconnectMinMs) {
    throw bad("mqtt.reconnectMaxMs", `${mqtt.reconnectMaxMs} ms`, "use >= {mqtt.reconnectMinMs}");
  }
  return { ...mqtt, url: broker?.url, username, password };
}

function checkAuth(auth: AuthConfig): void {
  if (auth.secret !== undefined) {
    // Only the length is ever shown: the secret must not reach logs or terminals.
    const bytes = new TextEncoder().encode(String(auth.secret)).length;
    if (bytes < MIN_SECRET_BYTES) {
      throw bad(
        "auth.secret",
        `${bytes} bytes`,
        `use at least ${MIN_SECRET_BYTES} (e.g. from \`openssl rand -hex 32\`), or unset ` +
          `it to run in development mode with a random secret`,
      );
    }
  }
  if (auth.jwksUrl !== undefined && auth.secret !== undefined) {
    throw new OptionError(
      "auth.secret",
      "and {auth.jwksUrl} are both set; use one: the secret for HS256 tokens you mint, or your " +
        "identity provider's JWKS URL",
    );
  }
  if (auth.jwksUrl !== undefined && !isHttpUrl(auth.jwksUrl)) {
    throw bad(
      "auth.jwksUrl",
      shown(auth.jwksUrl),
      "use an http(s) URL, e.g. https://auth.example.com/.well-known/jwks.json",
    );
  }
  text("auth.issuer", auth.issuer, "unset it to accept any issuer");
  text("auth.audience", auth.audience, "unset it to accept any audience");
  if (!Number.isFinite(auth.clockToleranceSec) || auth.clockToleranceSec < 0) {
    throw bad("auth.clockToleranceSec", shown(auth.clockToleranceSec), "use seconds >= 0");
  }
  if (typeof auth.allowNoExp !== "boolean") {
    throw bad("auth.allowNoExp", shown(auth.allowNoExp), "use true or false");
  }
}

function checkStream(stream: StreamConfig): void {
  duration("stream.historyMs", stream.historyMs, ">= 0", " (0 keeps no history)");
  count("stream.historyMax", stream.historyMax);
  duration("stream.staleAfterMs", stream.staleAfterMs, "> 0");
  duration("stream.tokenRefreshWindowMs", stream.tokenRefreshWindowMs, ">= 0");
}

/** Checks the command options; returns them with the ack topic filled in. */
function checkCommands(commands: CommandsConfig, dataTopic: string): CommandsConfig {
  duration("commands.intervalMs", commands.intervalMs, ">= 0", " (0: no per-sensor limit)");
  duration("commands.timeoutMs", commands.timeoutMs, "> 0");
  const ackTopic = commands.ackTopic ?? commandAckTopicOf(commands.topic);
  const isData = topicMatcher(dataTopic);
  for (
    const [path, template] of [["commands.topic", commands.topic], ["commands.ackTopic", ackTopic]]
  ) {
    const problem = typeof template === "string" ? commandTopicProblem(template) : "is no string";
    const value = literal(shown(template));
    if (problem) throw bad(path!, value, literal(`it ${problem} (e.g. ${DEFAULT_COMMAND_TOPIC})`));
    if (isData(commandTopic(template!, "V1")) !== undefined) {
      throw bad(path!, value, `it overlaps {mqtt.topic}; use a topic of its own`);
    }
  }
  if (ackTopic === commands.topic) {
    throw bad(
      "commands.ackTopic",
      literal(shown(ackTopic)),
      "use a topic other than {commands.topic}",
    );
  }
  return { ...commands, ackTopic };
}

function checkLimits(limits: LimitsConfig): void {
  duration("limits.rateLimitMs", limits.rateLimitMs, ">= 0", " (0 turns the throttle off)");
  count("limits.maxBufferedBytes", limits.maxBufferedBytes, " of bytes");
  count("limits.maxTotalBufferedBytes", limits.maxTotalBufferedBytes, " of bytes");
  count("limits.maxSensors", limits.maxSensors);
  duration("limits.sensorTtlMs", limits.sensorTtlMs, "> 0");
  duration("limits.slowClientTimeoutMs", limits.slowClientTimeoutMs, ">= 0");
  duration("limits.idleTimeoutMs", limits.idleTimeoutMs, "> 0");
  count("limits.maxMessageBytes", limits.maxMessageBytes, " of bytes");
  count("limits.maxErrors", limits.maxErrors);
  duration("limits.errorWindowMs", limits.errorWindowMs, "> 0");
  count("limits.maxClients", limits.maxClients);
  count("limits.maxPendingSockets", limits.maxPendingSockets);
}
