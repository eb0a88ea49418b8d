/**
 * Server configuration: its shape, defaults, and parsing of flag/env strings with messages
 * that say what to fix. Validated once, before anything starts.
 * @module
 */
import { UsageError } from "./errors.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import { parseBrokerUrl } from "./broker_url.ts";
import { DEFAULT_TOPIC, MAX_CLIENT_MESSAGE_BYTES, topicFilterProblem } from "./protocol.ts";
import { MIN_SECRET_BYTES } from "./token.ts";

import { MAX_TIMER_MS } from "../lib/time.ts";

export { MAX_TIMER_MS, parseBrokerUrl };

/** MQTT side of the service. */
export interface MqttConfig {
  /** Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`); `undefined` runs the embedded broker. */
  url: string | undefined;
  /** Port of the embedded broker (used only when `url` is undefined). Default 1883. */
  embeddedPort: number;
  /** Hostname the embedded broker binds. Default 127.0.0.1. */
  embeddedHostname: string;
  username: string | undefined;
  password: string | undefined;
  /** Topic filter with one `+` level for the sensor id. Default `sensors/+/data`. */
  topic: string;
  /** Subscription QoS. Default 0. */
  qos: 0 | 1 | 2;
  /** First reconnect delay in ms; doubles up to `reconnectMaxMs`. Default 500. */
  reconnectMinMs: number;
  /** Longest reconnect delay in ms. Default 10000. */
  reconnectMaxMs: number;
}

/** JWT verification settings. Neither `secret` nor `jwksUrl`: a random dev secret is generated. */
export interface AuthConfig {
  /** HS256 secret, at least 32 bytes. */
  secret: string | undefined;
  /** JWKS URL of an identity provider (RS256/ES256/EdDSA). */
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** Allowed clock skew in seconds. Default 30. */
  clockToleranceSec: number;
  /** Accept tokens without `exp` (they never expire). Default false. */
  allowNoExp: boolean;
}

/** Bounds that keep server memory bounded whatever clients do. */
export interface LimitsConfig {
  /** Per-sensor throttle window in ms; 0 disables. Default 1000. */
  rateLimitMs: number;
  /** A client whose `bufferedAmount` exceeds this switches to latest-value mode. Default 256 KiB. */
  maxBufferedBytes: number;
  /** A slow client that cannot drain within this is closed with 1013. Default 30000. */
  slowClientTimeoutMs: number;
  /** Ping interval / idle timeout for dead peers, ms. Default 30000. */
  idleTimeoutMs: number;
  /** Largest client message, bytes. Default 65536. */
  maxMessageBytes: number;
  /** Close with 1008 after more than this many invalid messages within `errorWindowMs`. Default 20. */
  maxErrors: number;
  /** Window for `maxErrors`, ms. Default 10000. */
  errorWindowMs: number;
  /** Most concurrent clients; further clients are closed with 1013 `server full`. Default 10000. */
  maxClients: number;
  /**
   * Sockets tolerated beyond `maxClients` that are not (or no longer) clients: handshakes,
   * token checks, refused clients closing. Upgrades past the sum get HTTP 503. Default 1024.
   */
  maxPendingSockets: number;
}

/** Everything `startServer` needs. */
export interface ServerConfig {
  port: number;
  hostname: string;
  mqtt: MqttConfig;
  auth: AuthConfig;
  limits: LimitsConfig;
  log: { level: LogLevel; format: LogFormat };
}

/** Defaults for every option. */
export const DEFAULT_CONFIG: ServerConfig = {
  port: 8000,
  hostname: "0.0.0.0",
  mqtt: {
    url: undefined,
    embeddedPort: 1883,
    embeddedHostname: "127.0.0.1",
    username: undefined,
    password: undefined,
    topic: DEFAULT_TOPIC,
    qos: 0,
    reconnectMinMs: 500,
    reconnectMaxMs: 10_000,
  },
  auth: {
    secret: undefined,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
    clockToleranceSec: 30,
    allowNoExp: false,
  },
  limits: {
    rateLimitMs: 1_000,
    maxBufferedBytes: 256 * 1024,
    slowClientTimeoutMs: 30_000,
    idleTimeoutMs: 30_000,
    maxMessageBytes: MAX_CLIENT_MESSAGE_BYTES,
    maxErrors: 20,
    errorWindowMs: 10_000,
    maxClients: 10_000,
    maxPendingSockets: 1_024,
  },
  log: { level: "info", format: "pretty" },
};

/** Deeply partial config, as accepted by `startServer`. */
export type ServerOptions = {
  [K in keyof ServerConfig]?: ServerConfig[K] extends object ? Partial<ServerConfig[K]>
    : ServerConfig[K];
};

/** Fills defaults into partial options. Validation is `validateConfig`'s job. */
export function withDefaults(options: ServerOptions = {}): ServerConfig {
  return {
    port: options.port ?? DEFAULT_CONFIG.port,
    hostname: options.hostname ?? DEFAULT_CONFIG.hostname,
    mqtt: { ...DEFAULT_CONFIG.mqtt, ...options.mqtt },
    auth: { ...DEFAULT_CONFIG.auth, ...options.auth },
    limits: { ...DEFAULT_CONFIG.limits, ...options.limits },
    log: { ...DEFAULT_CONFIG.log, ...options.log },
  };
}

/** Flag and env var that set each config field, keyed by its path; messages and `serve` use them. */
export const OPTION_NAMES = {
  port: { flag: "--port", env: "PORT" },
  hostname: { flag: "--hostname", env: "HOST" },
  "mqtt.url": { flag: "--mqtt-url", env: "MQTT_BROKER_URL" },
  "mqtt.embeddedPort": { flag: "--mqtt-port", env: "MQTT_BROKER_PORT" },
  "mqtt.username": { flag: "--mqtt-username", env: "MQTT_USERNAME" },
  "mqtt.password": { flag: "--mqtt-password", env: "MQTT_PASSWORD" },
  "mqtt.topic": { flag: "--topic", env: "MQTT_TOPIC" },
  "mqtt.qos": { flag: "--qos", env: "MQTT_QOS" },
  "auth.secret": { flag: "--jwt-secret", env: "JWT_SECRET" },
  "auth.jwksUrl": { flag: "--jwks-url", env: "JWT_JWKS_URL" },
  "auth.issuer": { flag: "--jwt-issuer", env: "JWT_ISSUER" },
  "auth.audience": { flag: "--jwt-audience", env: "JWT_AUDIENCE" },
  "auth.allowNoExp": { flag: "--jwt-allow-no-exp", env: "JWT_ALLOW_NO_EXP" },
  "limits.rateLimitMs": { flag: "--rate-limit", env: "WEBSOCKET_RATE_LIMIT_SECONDS" },
  "limits.maxBufferedBytes": { flag: "--max-buffered-bytes", env: "WS_MAX_BUFFERED_BYTES" },
  "limits.slowClientTimeoutMs": {
    flag: "--slow-client-timeout",
    env: "WS_SLOW_CLIENT_TIMEOUT_SECONDS",
  },
  "limits.idleTimeoutMs": { flag: "--idle-timeout", env: "WS_IDLE_TIMEOUT_SECONDS" },
  "limits.maxClients": { flag: "--max-clients", env: "WS_MAX_CLIENTS" },
  "log.level": { flag: "--log-level", env: "LOG_LEVEL" },
  "log.format": { flag: "--log-format", env: "LOG_FORMAT" },
} as const satisfies Record<string, { flag: string; env: string }>;

/** How messages name an option: `--flag / ENV_VAR`. */
const opt = (path: keyof typeof OPTION_NAMES) =>
  `${OPTION_NAMES[path].flag} / ${OPTION_NAMES[path].env}`;

const shown = (v: unknown) => typeof v === "string" ? `'${v}'` : String(v);
const fail = (option: string, value: string, allowed: string) =>
  new UsageError(`${option} is ${value}; ${allowed}`);

function port(option: string, v: number): void {
  if (Number.isInteger(v) && v >= 0 && v <= 65_535) return;
  throw fail(option, shown(v), "use a whole number from 0 to 65535 (0 = any free port)");
}
function count(option: string, v: number, unit = ""): void {
  if (!Number.isInteger(v) || v < 1) throw fail(option, shown(v), `use a whole number${unit} >= 1`);
}
/**
 * Durations held in ms; flags take seconds, so a flagged option shows and asks for seconds.
 * Timers cannot hold more than {@link MAX_TIMER_MS}.
 */
function duration(option: string, ms: number, min: ">= 0" | "> 0", note = ""): void {
  const flagged = option.startsWith("--");
  const value = typeof ms !== "number" ? shown(ms) : flagged ? `${ms / 1000} s` : `${ms} ms`;
  if (Number.isFinite(ms) && ms > MAX_TIMER_MS) {
    const max = flagged ? `${Math.floor(MAX_TIMER_MS / 1000)} s` : `${MAX_TIMER_MS} ms`;
    throw fail(option, value, `the longest a timer can hold is ${max} (about 24 days)`);
  }
  if (Number.isFinite(ms) && (ms > 0 || (min === ">= 0" && ms === 0))) return;
  throw fail(option, value, `use a number of ${flagged ? "seconds" : "ms"} ${min}${note}`);
}
function isHttpUrl(v: string): boolean {
  const url = typeof v === "string" ? URL.parse(v) : null;
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") &&
    url.hostname !== "";
}
function text(option: string, v: string | undefined, unset: string): void {
  if (v !== undefined && (typeof v !== "string" || v.trim() === "")) {
    throw fail(option, "empty", `give a value, or ${unset}`);
  }
}

/**
 * Checks every field and returns the config with the broker URL normalized. Throws
 * `UsageError` naming the option (flag / env var), the value (never a secret) and what is allowed.
 */
export function validateConfig(config: ServerConfig): ServerConfig {
  const { mqtt, auth, limits, log } = config;
  port(opt("port"), config.port);
  text(opt("hostname"), config.hostname ?? "", "leave it unset to bind 0.0.0.0");
  port(opt("mqtt.embeddedPort"), mqtt.embeddedPort);
  text("mqtt.embeddedHostname", mqtt.embeddedHostname ?? "", "leave it unset to bind 127.0.0.1");
  const broker = mqtt.url === undefined ? undefined : parseBrokerUrl(mqtt.url, mqtt.embeddedPort);
  const fromUrl = broker?.username !== undefined;
  if (fromUrl && (mqtt.username !== undefined || mqtt.password !== undefined)) {
    throw new UsageError(
      `${opt("mqtt.url")} carries credentials and ${opt("mqtt.username")} or ` +
        `${opt("mqtt.password")} is set too; give them once (the separate options keep the ` +
        `password out of the URL)`,
    );
  }
  const username = fromUrl ? broker.username : mqtt.username;
  const password = fromUrl ? broker.password : mqtt.password;
  if (password !== undefined && !username) {
    throw fail(opt("mqtt.password"), "set without a username", `also set ${opt("mqtt.username")}`);
  }
  const topicProblem = typeof mqtt.topic === "string"
    ? topicFilterProblem(mqtt.topic)
    : "must be a string";
  if (topicProblem) {
    throw fail(opt("mqtt.topic"), shown(mqtt.topic), `it ${topicProblem} (e.g. sensors/+/data)`);
  }
  if (![0, 1, 2].includes(mqtt.qos)) throw fail(opt("mqtt.qos"), shown(mqtt.qos), "use 0, 1 or 2");
  duration("mqtt.reconnectMinMs", mqtt.reconnectMinMs, "> 0");
  duration("mqtt.reconnectMaxMs", mqtt.reconnectMaxMs, "> 0");
  if (mqtt.reconnectMaxMs < mqtt.reconnectMinMs) {
    throw fail("mqtt.reconnectMaxMs", `${mqtt.reconnectMaxMs} ms`, "use >= mqtt.reconnectMinMs");
  }

  if (auth.secret !== undefined) {
    // Only the length is ever shown: the secret must not reach logs or terminals.
    const bytes = new TextEncoder().encode(String(auth.secret)).length;
    if (bytes < MIN_SECRET_BYTES) {
      throw fail(
        opt("auth.secret"),
        `${bytes} bytes`,
        `use at least ${MIN_SECRET_BYTES} (e.g. JWT_SECRET=$(openssl rand -hex 32)), or unset ` +
          `it to run in development mode with a random secret`,
      );
    }
  }
  if (auth.jwksUrl !== undefined && auth.secret !== undefined) {
    const both = `${opt("auth.secret")} and ${opt("auth.jwksUrl")}`;
    throw new UsageError(
      `${both} are both set; use one: the secret for HS256 tokens you mint, or your identity ` +
        `provider's JWKS URL`,
    );
  }
  if (auth.jwksUrl !== undefined && !isHttpUrl(auth.jwksUrl)) {
    throw fail(
      opt("auth.jwksUrl"),
      shown(auth.jwksUrl),
      "use an http(s) URL, e.g. https://auth.example.com/.well-known/jwks.json",
    );
  }
  text(opt("auth.issuer"), auth.issuer, "unset it to accept any issuer");
  text(opt("auth.audience"), auth.audience, "unset it to accept any audience");
  if (!Number.isFinite(auth.clockToleranceSec) || auth.clockToleranceSec < 0) {
    throw fail("auth.clockToleranceSec", shown(auth.clockToleranceSec), "use seconds >= 0");
  }

  duration(opt("limits.rateLimitMs"), limits.rateLimitMs, ">= 0", " (0 turns the throttle off)");
  count(opt("limits.maxBufferedBytes"), limits.maxBufferedBytes, " of bytes");
  duration(opt("limits.slowClientTimeoutMs"), limits.slowClientTimeoutMs, ">= 0");
  duration(opt("limits.idleTimeoutMs"), limits.idleTimeoutMs, "> 0");
  count("limits.maxMessageBytes", limits.maxMessageBytes, " of bytes");
  count("limits.maxErrors", limits.maxErrors);
  duration("limits.errorWindowMs", limits.errorWindowMs, "> 0");
  count(opt("limits.maxClients"), limits.maxClients);
  count("limits.maxPendingSockets", limits.maxPendingSockets);

  if (!LOG_LEVELS.includes(log.level)) {
    throw fail(opt("log.level"), shown(log.level), `use one of ${LOG_LEVELS.join(", ")}`);
  }
  if (log.format !== "pretty" && log.format !== "json") {
    throw fail(opt("log.format"), shown(log.format), "use pretty or json");
  }
  const normalized = { ...mqtt, url: broker?.url, username, password };
  return { ...config, mqtt: normalized, auth: { ...auth }, limits: { ...limits }, log: { ...log } };
}
