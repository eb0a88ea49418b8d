/**
 * The options of `serve` (and `demo`), each declared once: flag, environment variable, default,
 * parser, help, and the server config path it sets. A new `serve` option is one entry here.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../../lib/log.ts";
import { DEFAULT_CONFIG, MAX_DRAIN_DELAY_MS } from "../../server/config.ts";
import {
  intInRange,
  parseBoolean,
  parsePort,
  parsePositiveSeconds,
  parseSeconds,
} from "../parse.ts";
import {
  AUDIENCE_ENV,
  COMMAND_ACK_TOPIC,
  COMMAND_TOPIC,
  ISSUER_ENV,
  JWT_SECRET,
  JWT_SECRET_FILE,
  MQTT_PASSWORD,
  MQTT_PASSWORD_FILE,
  MQTT_PORT,
  MQTT_URL,
  MQTT_USERNAME,
  QOS_FLAGS,
  TOPIC,
} from "./shared.ts";
import { option } from "./table.ts";

const d = DEFAULT_CONFIG;
const secondsToMs = (s: number) => Math.round(s * 1000);

/** Most workers `--workers` takes. */
const MAX_WORKERS = 256;

/** `--workers`: a count, or `auto` for one per core. */
function parseWorkers(text: string): number {
  if (text.trim() === "auto") return Math.max(1, navigator.hardwareConcurrency);
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKERS) {
    throw new InvalidArgumentError(
      `'${text}' is not auto or a whole number from 1 to ${MAX_WORKERS}`,
    );
  }
  return Number(text);
}

/** Every option of `serve`. */
export const SERVE_OPTIONS = {
  port: option({
    flags: "--port <port>",
    env: "PORT",
    help: "HTTP/WebSocket port",
    parse: parsePort,
    default: d.port,
    path: "port",
  }),
  hostname: option({
    flags: "--hostname <host>",
    env: "HOST",
    help: "interface to bind",
    default: d.hostname,
    path: "hostname",
  }),
  workers: option({
    flags: "--workers <n>",
    env: "WORKERS",
    help: "serving threads sharing the port (SO_REUSEPORT, Linux; needs --unstable-net), each " +
      "with its own MQTT link, hub and history; auto = one per core",
    parse: parseWorkers,
    default: 1,
  }),
  mqttUrl: {
    ...MQTT_URL,
    help: `${MQTT_URL.help}; unset = embedded broker`,
    path: "mqtt.url",
  },
  mqttPort: {
    ...MQTT_PORT,
    help: "embedded broker port (or the port of a bare-host --mqtt-url)",
    default: d.mqtt.embeddedPort,
    path: "mqtt.embeddedPort",
  },
  mqttUsername: { ...MQTT_USERNAME, path: "mqtt.username" },
  mqttPassword: { ...MQTT_PASSWORD, path: "mqtt.password" },
  mqttPasswordFile: MQTT_PASSWORD_FILE,
  topic: { ...TOPIC, default: d.mqtt.topic, path: "mqtt.topic" },
  qos: option({
    flags: QOS_FLAGS,
    env: "MQTT_QOS",
    help: "MQTT subscription QoS",
    parse: intInRange(0, 2) as (text: string) => 0 | 1 | 2,
    default: d.mqtt.qos,
    path: "mqtt.qos",
  }),
  mqttClientId: option({
    flags: "--mqtt-client-id <id>",
    env: "MQTT_CLIENT_ID",
    help: "a fixed MQTT client id: the broker keeps a session, and with --qos 1 holds readings " +
      "for serve while it restarts",
    path: "mqtt.clientId",
  }),
  rateLimit: option({
    flags: "--rate-limit <seconds>",
    env: "WEBSOCKET_RATE_LIMIT_SECONDS",
    help: "per-sensor throttle window; 0 = off",
    parse: parseSeconds,
    default: d.limits.rateLimitMs / 1000,
    path: "limits.rateLimitMs",
    toConfig: secondsToMs,
  }),
  jwtSecret: { ...JWT_SECRET, help: `${JWT_SECRET.help}; unset = dev mode`, path: "auth.secret" },
  jwtSecretFile: JWT_SECRET_FILE,
  jwksUrl: option<string>({
    flags: "--jwks-url <url>",
    env: "JWT_JWKS_URL",
    help: "JWKS URL for RS256/ES256/EdDSA",
    path: "auth.jwksUrl",
  }),
  jwtIssuer: option<string>({
    flags: "--jwt-issuer <iss>",
    env: ISSUER_ENV,
    help: "required token issuer",
    path: "auth.issuer",
  }),
  jwtAudience: option<string>({
    flags: "--jwt-audience <aud>",
    env: AUDIENCE_ENV,
    help: "required token audience",
    path: "auth.audience",
  }),
  jwtAllowNoExp: option<boolean>({
    flags: "--jwt-allow-no-exp [bool]",
    env: "JWT_ALLOW_NO_EXP",
    help: "accept tokens without exp (they never expire)",
    parse: parseBoolean,
    default: d.auth.allowNoExp,
    path: "auth.allowNoExp",
  }),
  maxBufferedBytes: option({
    flags: "--max-buffered-bytes <bytes>",
    env: "WS_MAX_BUFFERED_BYTES",
    help: "send buffer above which a client gets only latest values",
    parse: intInRange(1, 2 ** 31),
    default: d.limits.maxBufferedBytes,
    path: "limits.maxBufferedBytes",
  }),
  maxTotalBufferedBytes: option({
    flags: "--max-total-buffered-bytes <bytes>",
    env: "WS_MAX_TOTAL_BUFFERED_BYTES",
    help: "send buffers of all clients together; each client gets its share",
    parse: intInRange(1, 2 ** 40),
    default: d.limits.maxTotalBufferedBytes,
    path: "limits.maxTotalBufferedBytes",
  }),
  slowClientTimeout: option({
    flags: "--slow-client-timeout <seconds>",
    env: "WS_SLOW_CLIENT_TIMEOUT_SECONDS",
    help: "close a client that cannot drain (1013) after",
    parse: parseSeconds,
    default: d.limits.slowClientTimeoutMs / 1000,
    path: "limits.slowClientTimeoutMs",
    toConfig: secondsToMs,
  }),
  idleTimeout: option({
    flags: "--idle-timeout <seconds>",
    env: "WS_IDLE_TIMEOUT_SECONDS",
    help: "ping interval; peers that do not answer are dropped",
    parse: parsePositiveSeconds,
    default: d.limits.idleTimeoutMs / 1000,
    path: "limits.idleTimeoutMs",
    toConfig: secondsToMs,
  }),
  maxSensors: option({
    flags: "--max-sensors <n>",
    env: "MAX_SENSORS",
    help: "most sensors known at once; readings of new ids beyond are dropped",
    parse: intInRange(1, 10_000_000),
    default: d.limits.maxSensors,
    path: "limits.maxSensors",
  }),
  sensorTtl: option({
    flags: "--sensor-ttl <seconds>",
    env: "SENSOR_TTL_SECONDS",
    help: "a sensor silent this long is forgotten",
    parse: parsePositiveSeconds,
    default: d.limits.sensorTtlMs / 1000,
    path: "limits.sensorTtlMs",
    toConfig: secondsToMs,
  }),
  history: option({
    flags: "--history <seconds>",
    env: "HISTORY_SECONDS",
    help: "how far back each sensor's readings are kept for history requests; 0 = none",
    parse: parseSeconds,
    default: d.stream.historyMs / 1000,
    path: "stream.historyMs",
    toConfig: secondsToMs,
  }),
  historyMax: option({
    flags: "--history-max <n>",
    env: "HISTORY_MAX",
    help: "most readings kept per sensor",
    parse: intInRange(1, 10_000_000),
    default: d.stream.historyMax,
    path: "stream.historyMax",
  }),
  staleAfter: option({
    flags: "--stale-after <seconds>",
    env: "STALE_AFTER_SECONDS",
    help: "least silence before a sensor is stale (and 3× its usual interval)",
    parse: parsePositiveSeconds,
    default: d.stream.staleAfterMs / 1000,
    path: "stream.staleAfterMs",
    toConfig: secondsToMs,
  }),
  tokenRefreshWindow: option({
    flags: "--token-refresh-window <seconds>",
    env: "TOKEN_REFRESH_WINDOW_SECONDS",
    help: "token_expiring is sent this long before a client's token expires",
    parse: parseSeconds,
    default: d.stream.tokenRefreshWindowMs / 1000,
    path: "stream.tokenRefreshWindowMs",
    toConfig: secondsToMs,
  }),
  commandInterval: option({
    flags: "--command-interval <seconds>",
    env: "COMMAND_INTERVAL_SECONDS",
    help: "at most one command per sensor this often, whoever sends it; 0 = no limit",
    parse: parseSeconds,
    default: d.commands.intervalMs / 1000,
    path: "commands.intervalMs",
    toConfig: secondsToMs,
  }),
  commandTimeout: option({
    flags: "--command-timeout <seconds>",
    env: "COMMAND_TIMEOUT_SECONDS",
    help: "a command the device does not ack within this times out (after accepted: its " +
      "duration plus this)",
    parse: parsePositiveSeconds,
    default: d.commands.timeoutMs / 1000,
    path: "commands.timeoutMs",
    toConfig: secondsToMs,
  }),
  commandTopic: { ...COMMAND_TOPIC, path: "commands.topic" },
  commandAckTopic: { ...COMMAND_ACK_TOPIC, path: "commands.ackTopic" },
  maxClients: option({
    flags: "--max-clients <n>",
    env: "WS_MAX_CLIENTS",
    help: "most concurrent WebSocket clients",
    parse: intInRange(1, 1_000_000),
    default: d.limits.maxClients,
    path: "limits.maxClients",
  }),
  drainDelay: option({
    flags: "--drain-delay <seconds>",
    env: "DRAIN_DELAY_SECONDS",
    help: "on SIGTERM, /readyz says 503 this long while clients keep streaming, then they are " +
      `closed with 1001; 0 = at once, at most ${MAX_DRAIN_DELAY_MS / 1000}`,
    parse: (text: string) => {
      const seconds = parseSeconds(text);
      if (seconds * 1000 > MAX_DRAIN_DELAY_MS) {
        throw new InvalidArgumentError(
          `'${text}' is longer than ${MAX_DRAIN_DELAY_MS / 1000} s: stopping must end within ` +
            "5 s (make the load balancer's health check faster instead)",
        );
      }
      return seconds;
    },
    default: d.drainDelayMs / 1000,
    path: "drainDelayMs",
    toConfig: secondsToMs,
  }),
  logLevel: option<LogLevel>({
    flags: "--log-level <level>",
    env: "LOG_LEVEL",
    help: "lowest level logged",
    choices: LOG_LEVELS,
    default: d.log.level,
    path: "log.level",
  }),
  logFormat: option<LogFormat>({
    flags: "--log-format <format>",
    env: "LOG_FORMAT",
    help: "log line format",
    choices: ["pretty", "json"],
    default: d.log.format,
    path: "log.format",
  }),
};
