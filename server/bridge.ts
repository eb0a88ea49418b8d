/**
 * The MQTT link: connect, subscribe to the sensor topic once per (re)connect, report the link's
 * state, reconnect with backoff, and hand every message to the {@link Ingest} step.
 * @module
 */
import mqtt, { type MqttClient } from "mqtt";
import type { MqttConfig } from "./config.ts";
import { redactUrl } from "../lib/broker_url.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { Ingest, type IngestOptions, type LatestReading, type OutgoingReading } from "./ingest.ts";
import { systemClock } from "../lib/clock.ts";

export type { LatestReading, OutgoingReading };

/**
 * Options of {@link startBridge}: the link's, and {@link Ingest}'s (all but the topic, which
 * comes from `mqtt`), passed on as they are.
 */
export interface BridgeOptions extends Omit<IngestOptions, "topic"> {
  /** Broker URL to connect to (the embedded broker's when none is configured). */
  url: string;
  mqtt: MqttConfig;
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

/** Connects to the broker (in the background: a broker that is down is retried). */
export function startBridge(options: BridgeOptions): Bridge {
  const { mqtt: cfg } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const ingest = new Ingest({ ...options, topic: cfg.topic, logger, clock });
  const client = connect(options.url, cfg);
  const link = watchLink(client, { ...options, logger });
  client.on("message", (topic, payload, packet) => ingest.take(topic, payload, packet.retain));
  return {
    get connected() {
      return link.connected;
    },
    latest: () => ingest.latest(),
    async close() {
      if (link.closed) return;
      link.closed = true;
      ingest.close();
      await client.endAsync(true);
      link.connected = false;
    },
  };
}

function connect(url: string, cfg: MqttConfig): MqttClient {
  return mqtt.connect(url, {
    username: cfg.username,
    password: cfg.password,
    // A fixed id keeps the session, and the readings the broker queued for it while serve was
    // down arrive when it is back (with QoS 1 or 2 on both sides).
    clientId: cfg.clientId ?? `sensorstream-${crypto.randomUUID().slice(0, 8)}`,
    clean: cfg.clientId === undefined,
    reconnectPeriod: cfg.reconnectMinMs,
    connectTimeout: 5_000,
    // The "connect" handler subscribes on every (re)connect and reports the link up only on
    // SUBACK. MQTT.js's own resubscribe would race it: it sends the SUBSCRIBE itself and turns
    // ours into a no-op that calls back at once, so the bridge looked ready before the broker
    // had accepted (or refused) the subscription.
    resubscribe: false,
  });
}

/** The link's state, kept by its events: one SUBSCRIBE per connect, backoff between retries. */
function watchLink(
  client: MqttClient,
  options: Pick<BridgeOptions, "url" | "mqtt" | "metrics" | "onStatus"> & { logger: Logger },
): { connected: boolean; closed: boolean } {
  const { mqtt: cfg, logger, metrics } = options;
  const url = redactUrl(options.url);
  const link = { connected: false, closed: false };
  const setStatus = (up: boolean) => {
    if (up === link.connected) return;
    link.connected = up;
    options.onStatus(up);
  };
  client.on("connect", () => {
    client.options.reconnectPeriod = cfg.reconnectMinMs;
    metrics.mqttConnects.inc();
    client.subscribe(cfg.topic, { qos: cfg.qos }, (error) => {
      if (error) return logger.error("mqtt subscribe failed", { topic: cfg.topic, error });
      logger.info("mqtt connected", { url, topic: cfg.topic });
      setStatus(true);
    });
  });
  client.on("close", () => {
    if (link.connected && !link.closed) logger.warn("mqtt disconnected", { url });
    setStatus(false);
    // Exponential backoff: MQTT.js reads reconnectPeriod before each retry.
    client.options.reconnectPeriod = Math.min(
      (client.options.reconnectPeriod ?? cfg.reconnectMinMs) * 2,
      cfg.reconnectMaxMs,
    );
  });
  client.on("error", (error) => {
    if (link.closed) return;
    const retryInMs = client.options.reconnectPeriod;
    logger.warn("mqtt connection failed", { url, error: error.message, retryInMs });
  });
  return link;
}
