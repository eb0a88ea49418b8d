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
import { commandFilter, topicMatcher } from "../protocol/mod.ts";

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
  /** Command topics to follow besides the readings; none without. */
  commands?: BridgeCommands | undefined;
}

/** The command topics the bridge also follows, and where their messages go. */
export interface BridgeCommands {
  /** Command topic template (`{id}` = sensor id): commands are published here, and seen here. */
  topic: string;
  /** Ack topic template devices answer on. */
  ackTopic: string;
  /** A message on a sensor's ack topic. */
  onAck(sensorId: string, payload: Uint8Array): void;
  /** A message on a sensor's command topic (ours coming back, or another publisher's). */
  onCommand(sensorId: string, payload: Uint8Array, retained: boolean): void;
}

/** A running bridge. */
export interface Bridge {
  /** Whether the broker link is up. */
  readonly connected: boolean;
  /** Latest valid reading per sensor, serialized (including ones the throttle still holds). */
  latest(): Iterable<LatestReading>;
  /**
   * Publishes `text` to `topic` with QoS 1; resolves when the broker has acknowledged it (a
   * link that drops meanwhile delivers it after reconnecting), rejects when it cannot be sent.
   */
  publish(topic: string, text: string): Promise<void>;
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
  const route = commandRouter(options.commands);
  client.on("message", (topic, payload, packet) => {
    if (!route(topic, payload, packet.retain)) ingest.take(topic, payload, packet.retain);
  });
  return {
    get connected() {
      return link.connected;
    },
    latest: () => ingest.latest(),
    publish: (topic, text) =>
      new Promise((resolve, reject) => {
        if (link.closed) return reject(new Error("the bridge is closed"));
        client.publish(topic, text, { qos: 1 }, (error) => error ? reject(error) : resolve());
      }),
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

/**
 * A function that hands a message on a command or ack topic to its handler and says so, or
 * says no (a reading, or anything else, for ingest). The `endsWith` checks inside the matchers
 * turn a reading's topic away after a comparison or two.
 */
function commandRouter(
  commands: BridgeCommands | undefined,
): (topic: string, payload: Uint8Array, retained: boolean) => boolean {
  if (!commands) return () => false;
  const ackOf = topicMatcher(commandFilter(commands.ackTopic));
  const commandOf = topicMatcher(commandFilter(commands.topic));
  return (topic, payload, retained) => {
    const acked = ackOf(topic);
    if (acked !== undefined) {
      commands.onAck(acked, payload);
      return true;
    }
    const commanded = commandOf(topic);
    if (commanded === undefined) return false;
    commands.onCommand(commanded, payload, retained);
    return true;
  };
}

/** What the bridge subscribes to: the readings, and the command and ack topics with QoS 1. */
function subscriptionsOf(
  cfg: MqttConfig,
  commands: BridgeCommands | undefined,
): Record<string, { qos: 0 | 1 | 2 }> {
  const topics: Record<string, { qos: 0 | 1 | 2 }> = { [cfg.topic]: { qos: cfg.qos } };
  if (commands) {
    topics[commandFilter(commands.ackTopic)] = { qos: 1 };
    topics[commandFilter(commands.topic)] = { qos: 1 };
  }
  return topics;
}

/** The link's state, kept by its events: one SUBSCRIBE per connect, backoff between retries. */
function watchLink(
  client: MqttClient,
  options: Pick<BridgeOptions, "url" | "mqtt" | "metrics" | "onStatus" | "commands"> & {
    logger: Logger;
  },
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
    client.subscribe(subscriptionsOf(cfg, options.commands), (error, granted) => {
      if (error) return logger.error("mqtt subscribe failed", { topic: cfg.topic, error });
      // A broker's ACL may refuse the command topics alone: readings still flow, and commands
      // end in `timeout` (or are never seen), which this line explains.
      for (const g of granted ?? []) {
        if (g.topic !== cfg.topic && g.qos === 128) {
          logger.warn("mqtt subscribe refused", { topic: g.topic, effect: "commands time out" });
        }
      }
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
