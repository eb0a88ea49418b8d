/**
 * The MQTT side: subscribe to the sensor topic, validate each message, throttle per sensor
 * and hand each surviving reading, serialized once, to the caller. Reconnects with backoff.
 * Retained messages only seed a sensor's last known value; they are never live readings.
 * @module
 */
import mqtt, { type MqttClient } from "mqtt";
import type { MqttConfig } from "./config.ts";
import { redactUrl } from "../lib/broker_url.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import { clipForLog as clip } from "../lib/sanitize.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import type { Metrics } from "./metrics.ts";
import { topicMatcher } from "../protocol/mod.ts";
import { type InvalidReason, parseReading } from "./reading.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { Throttle } from "./throttle.ts";

/** The last reading of a sensor, serialized once. */
export interface LatestReading {
  sensorId: string;
  text: string;
}

/** A reading leaving the bridge: its JSON text and when MQTT delivered it. */
export interface OutgoingReading extends LatestReading {
  /** When MQTT delivered it, ms. */
  receivedAt: number;
}

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  /** Broker URL to connect to (the embedded broker's when none is configured). */
  url: string;
  mqtt: MqttConfig;
  /** Per-sensor throttle window, ms; 0 disables. */
  rateLimitMs: number;
  metrics: Metrics;
  logger?: Logger;
  clock?: Clock;
  /** Called once per reading that passes validation and the throttle. */
  onReading(reading: OutgoingReading): void;
  /** Called when the broker link goes up or down. */
  onStatus(connected: boolean): void;
}

/** A running bridge. */
export interface Bridge {
  /** Whether the broker link is up. */
  readonly connected: boolean;
  /** Latest valid reading per sensor, serialized (including ones the throttle still holds). */
  latest(): Iterable<LatestReading>;
  /** Unsubscribes and disconnects; pending throttled readings are dropped. */
  close(): Promise<void>;
}

/** Most sensors whose last reading is remembered; oldest forgotten first. */
const MAX_REMEMBERED_SENSORS = 10_000;
/** Invalid-payload log lines: at most one per reason per this many ms. */
const INVALID_LOG_INTERVAL_MS = 10_000;

/** Connects to the broker (in the background: a broker that is down is retried). */
export function startBridge(options: BridgeOptions): Bridge {
  const { metrics, mqtt: cfg } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const latest = new Map<string, LatestReading>();
  const sensorIdOf = topicMatcher(cfg.topic);
  const invalidLog = new Map<string, LogLimiter>();
  let connected = false;
  let closed = false;

  const throttle = new Throttle<OutgoingReading>(
    options.rateLimitMs,
    (_sensorId, reading) => options.onReading(reading),
    clock,
  );

  const client: MqttClient = mqtt.connect(options.url, {
    username: cfg.username,
    password: cfg.password,
    clientId: `sensorstream-${crypto.randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: cfg.reconnectMinMs,
    connectTimeout: 5_000,
    // The "connect" handler subscribes on every (re)connect and reports the link up only on
    // SUBACK. MQTT.js's own resubscribe would race it: it sends the SUBSCRIBE itself and turns
    // ours into a no-op that calls back at once, so the bridge looked ready before the broker
    // had accepted (or refused) the subscription.
    resubscribe: false,
  });

  const setStatus = (up: boolean) => {
    if (up === connected) return;
    connected = up;
    options.onStatus(up);
  };

  client.on("connect", () => {
    client.options.reconnectPeriod = cfg.reconnectMinMs;
    metrics.mqttConnects++;
    client.subscribe(cfg.topic, { qos: cfg.qos }, (error) => {
      if (error) {
        logger.error("mqtt subscribe failed", { topic: cfg.topic, error });
        return;
      }
      logger.info("mqtt connected", { url: redactUrl(options.url), topic: cfg.topic });
      setStatus(true);
    });
  });
  client.on("close", () => {
    if (connected && !closed) logger.warn("mqtt disconnected", { url: redactUrl(options.url) });
    setStatus(false);
    // Exponential backoff: MQTT.js reads reconnectPeriod before each retry.
    client.options.reconnectPeriod = Math.min(
      (client.options.reconnectPeriod ?? cfg.reconnectMinMs) * 2,
      cfg.reconnectMaxMs,
    );
  });
  client.on("error", (error) => {
    if (closed) return;
    logger.warn("mqtt connection failed", {
      url: redactUrl(options.url),
      error: error.message,
      retryInMs: client.options.reconnectPeriod,
    });
  });

  client.on("message", (topic, payload, packet) => {
    const receivedAt = clock.now();
    metrics.mqttReceived++;
    if (packet.retain) metrics.mqttRetained++;
    const parsed = parseReading(topic, payload, { sensorIdOf, receivedAt });
    if (!parsed.ok) {
      metrics.mqttInvalid.inc(parsed.reason);
      logInvalid(topic, parsed.reason, parsed.detail);
      return;
    }
    // Serialized once here; the same text goes to the cache, the throttle and every client.
    const text = JSON.stringify(parsed.message);
    const reading = { sensorId: parsed.sensorId, text, receivedAt };
    if (packet.retain) {
      // The broker's stored value, replayed on every (re)subscribe: it may be hours old, so it
      // is not news for connected clients, and never replaces a value heard live.
      if (!latest.has(reading.sensorId)) remember(reading);
      return;
    }
    remember(reading);
    const before = throttle.dropped;
    throttle.push(reading.sensorId, reading);
    metrics.mqttThrottled += throttle.dropped - before;
  });

  function remember(reading: LatestReading) {
    if (latest.has(reading.sensorId)) latest.delete(reading.sensorId);
    else if (latest.size >= MAX_REMEMBERED_SENSORS) {
      latest.delete(latest.keys().next().value!);
    }
    latest.set(reading.sensorId, reading);
  }

  function logInvalid(topic: string, reason: InvalidReason, detail: string) {
    let limiter = invalidLog.get(reason);
    if (!limiter) invalidLog.set(reason, limiter = new LogLimiter(1, INVALID_LOG_INTERVAL_MS));
    const decision = limiter.take(clock.now());
    if (!decision.log) return;
    logger.warn("invalid mqtt payload dropped", {
      topic: clip(topic),
      reason,
      detail: clip(detail),
      suppressed: decision.suppressed,
    });
  }

  return {
    get connected() {
      return connected;
    },
    latest: () => latest.values(),
    async close() {
      if (closed) return;
      closed = true;
      throttle.close();
      await client.endAsync(true);
      connected = false;
    },
  };
}
