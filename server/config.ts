/**
 * Server configuration: its shape and defaults. `config_check.ts` validates it once, before
 * anything starts.
 * @module
 */
import type { LogFormat, LogLevel } from "../lib/log.ts";
import { DEFAULT_COMMAND_TOPIC, DEFAULT_TOPIC, MAX_CLIENT_MESSAGE_BYTES } from "../protocol/mod.ts";

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
  /**
   * A fixed client id: the bridge keeps a persistent session (clean: false), so the broker holds
   * QoS 1/2 readings for it while it is down. `undefined`: a random id and a clean session.
   */
  clientId: string | undefined;
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
  /**
   * All clients together buffer at most about this: each client's limit is its share of it
   * (never above `maxBufferedBytes`). Default 64 MiB.
   */
  maxTotalBufferedBytes: number;
  /** Most sensors known at once; readings of new ids beyond it are dropped. Default 10000. */
  maxSensors: number;
  /** A sensor silent this long is forgotten, ms. Default 24 h. */
  sensorTtlMs: number;
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

/** What the stream offers beyond live readings: history, staleness, token refresh. */
export interface StreamConfig {
  /** How far back each sensor's readings are kept, ms; 0 keeps none. Default 1 h. */
  historyMs: number;
  /** Most readings kept per sensor. Default 3600. */
  historyMax: number;
  /** Least silence before a sensor is stale, ms (and 3× its usual interval). Default 10 s. */
  staleAfterMs: number;
  /** `token_expiring` is sent this long before the token's `exp`, ms. Default 60 s. */
  tokenRefreshWindowMs: number;
}

/** Commands clients send to the devices (`command` messages). */
export interface CommandsConfig {
  /** At most one accepted command per sensor per this, ms, whoever sends it; 0 = no limit. Default 5 s. */
  intervalMs: number;
  /**
   * A command with no ack within this of sending times out; after `accepted`, its end may come
   * up to its own duration plus this later. Default 10 s.
   */
  timeoutMs: number;
  /** Topic template commands are published to; `{id}` is the sensor id. Default `sensors/{id}/commands`. */
  topic: string;
  /** Topic template devices ack on; `undefined`: `topic` + `/ack`. */
  ackTopic: string | undefined;
}

/** Everything `startServer` needs. */
export interface ServerConfig {
  port: number;
  hostname: string;
  /**
   * How `connection_status` names this serving process; default `<host name>:<port>`
   * (`/<worker>` is added by `serve --workers`).
   */
  instance: string | undefined;
  /**
   * On a draining shutdown (`shutdown({ drain: true })`, what SIGTERM does), how long `/readyz`
   * says 503 and new clients are refused while the connected ones keep streaming, so a load
   * balancer sends new clients elsewhere before these are closed with 1001, ms. 0 = none. At most
   * 3 s, so that stopping still ends within 5 s. Default 2000.
   */
  drainDelayMs: number;
  /**
   * Set `SO_REUSEPORT` on the listener, so several servers share `port` and Linux spreads new
   * connections across them (`serve --workers`; Deno 2.9 needs `--unstable-net`). Default false.
   */
  reusePort: boolean;
  mqtt: MqttConfig;
  auth: AuthConfig;
  limits: LimitsConfig;
  stream: StreamConfig;
  commands: CommandsConfig;
  log: { level: LogLevel; format: LogFormat };
}

/**
 * Longest drain delay: with the 1 s the clients get to answer the 1001 and the MQTT disconnect,
 * a SIGTERM still ends the process within 5 s (what supervisors wait for before SIGKILL).
 */
export const MAX_DRAIN_DELAY_MS = 3_000;

/** Defaults for every option. */
export const DEFAULT_CONFIG: ServerConfig = {
  port: 8000,
  hostname: "0.0.0.0",
  instance: undefined,
  drainDelayMs: 2_000,
  reusePort: false,
  mqtt: {
    url: undefined,
    embeddedPort: 1883,
    embeddedHostname: "127.0.0.1",
    username: undefined,
    password: undefined,
    topic: DEFAULT_TOPIC,
    qos: 0,
    clientId: undefined,
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
    maxTotalBufferedBytes: 64 * 1024 * 1024,
    maxSensors: 10_000,
    sensorTtlMs: 24 * 3_600_000,
    slowClientTimeoutMs: 30_000,
    idleTimeoutMs: 30_000,
    maxMessageBytes: MAX_CLIENT_MESSAGE_BYTES,
    maxErrors: 20,
    errorWindowMs: 10_000,
    maxClients: 10_000,
    maxPendingSockets: 1_024,
  },
  stream: {
    historyMs: 3_600_000,
    historyMax: 3_600,
    staleAfterMs: 10_000,
    tokenRefreshWindowMs: 60_000,
  },
  commands: {
    intervalMs: 5_000,
    timeoutMs: 10_000,
    topic: DEFAULT_COMMAND_TOPIC,
    ackTopic: undefined,
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
    instance: options.instance ?? DEFAULT_CONFIG.instance,
    drainDelayMs: options.drainDelayMs ?? DEFAULT_CONFIG.drainDelayMs,
    reusePort: options.reusePort ?? DEFAULT_CONFIG.reusePort,
    mqtt: { ...DEFAULT_CONFIG.mqtt, ...options.mqtt },
    auth: { ...DEFAULT_CONFIG.auth, ...options.auth },
    limits: { ...DEFAULT_CONFIG.limits, ...options.limits },
    stream: { ...DEFAULT_CONFIG.stream, ...options.stream },
    commands: { ...DEFAULT_CONFIG.commands, ...options.commands },
    log: { ...DEFAULT_CONFIG.log, ...options.log },
  };
}
