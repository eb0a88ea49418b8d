/**
 * What the bridge does with each MQTT message, without a broker: parse it, remember it as the
 * sensor's last value, throttle it, and hand it on serialized once. Retained messages only seed
 * a last value; invalid ones are counted and logged (rate-limited, per reason).
 * @module
 */
import { type Clock, systemClock } from "../lib/clock.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { clipForLog as clip } from "../lib/sanitize.ts";
import { type SensorReadingMessage, topicMatcher } from "../protocol/mod.ts";
import type { Metrics } from "./metrics.ts";
import { type InvalidReason, parseReading } from "./reading.ts";
import { Throttle } from "./throttle.ts";

/** The last reading of a sensor, serialized once. */
export interface LatestReading {
  sensorId: string;
  text: string;
}

/** A reading leaving the bridge: its JSON text, the message itself, and when MQTT delivered it. */
export interface OutgoingReading extends LatestReading {
  /** When MQTT delivered it, ms. */
  receivedAt: number;
  /** The `sensor_reading` message `text` serializes (its `timestamp` is the reading's time). */
  message: SensorReadingMessage;
}

/** Options of {@link Ingest}. */
export interface IngestOptions {
  /** Topic filter whose `+` level is the sensor id. */
  topic: string;
  /** Per-sensor throttle window, ms; 0 disables. */
  rateLimitMs: number;
  /** Most sensors known at once; readings of a new id beyond it are dropped. Default 10000. */
  maxSensors?: number | undefined;
  /** A sensor silent this long is forgotten, ms. Default 24 h. */
  sensorTtlMs?: number | undefined;
  metrics: Metrics;
  logger?: Logger;
  clock?: Clock;
  /** Called once per reading that passes validation and the throttle. */
  onReading(reading: OutgoingReading): void;
  /** Called for every valid live reading of a known sensor, before the throttle. */
  onHeard?(sensorId: string): void;
  /** A sensor silent for the TTL was forgotten. */
  onForget?(sensorId: string): void;
  /** A reading of a new sensor was refused because `maxSensors` are known (at = now, ms). */
  onRefused?(at: number): void;
}

/** Invalid-payload log lines: at most one per reason per this many ms. */
const INVALID_LOG_INTERVAL_MS = 10_000;

/** The bridge's handling of messages, apart from the MQTT link. */
export class Ingest {
  /** Last reading per known sensor, least recently heard first. */
  readonly #latest = new Map<string, LatestReading & { heardAt: number }>();
  readonly #maxSensors: number;
  readonly #ttlMs: number;
  readonly #sensorIdOf: (topic: string) => string | undefined;
  readonly #throttle: Throttle<OutgoingReading>;
  readonly #invalidLog = new Map<InvalidReason, LogLimiter>();
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #hooks: Pick<IngestOptions, "onHeard" | "onForget" | "onRefused">;

  /** Ready to take messages for `options.topic`. */
  constructor(options: IngestOptions) {
    this.#hooks = options;
    this.#metrics = options.metrics;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#sensorIdOf = topicMatcher(options.topic);
    this.#maxSensors = options.maxSensors ?? 10_000;
    this.#ttlMs = options.sensorTtlMs ?? 24 * 3_600_000;
    this.#throttle = new Throttle<OutgoingReading>(
      options.rateLimitMs,
      (_sensorId, reading) => options.onReading(reading),
      this.#clock,
    );
  }

  /** Takes one MQTT message; `retained` is its retain flag. */
  take(topic: string, payload: Uint8Array, retained = false): void {
    const metrics = this.#metrics;
    const receivedAt = this.#clock.now();
    metrics.mqttReceived.inc();
    if (retained) metrics.mqttRetained.inc();
    const parsed = parseReading(topic, payload, { sensorIdOf: this.#sensorIdOf, receivedAt });
    if (!parsed.ok) {
      metrics.mqttInvalid.inc(parsed.reason);
      return this.#logInvalid(topic, parsed.reason, parsed.detail);
    }
    if (!this.#known(parsed.sensorId, receivedAt)) {
      metrics.mqttInvalid.inc("too_many_sensors");
      this.#hooks.onRefused?.(receivedAt);
      const detail = `${this.#maxSensors} sensors are known; a new id waits until one is silent ` +
        `for the sensor TTL`;
      return this.#logInvalid(topic, "too_many_sensors", detail);
    }
    // Serialized once here; the same text goes to the cache, the throttle and every client.
    const { sensorId, message } = parsed;
    const reading = { sensorId, text: JSON.stringify(message), receivedAt, message };
    if (retained) {
      // The broker's stored value, replayed on every (re)subscribe: it may be hours old, so it
      // is not news for connected clients, and never replaces a value heard live.
      if (!this.#latest.has(reading.sensorId)) this.#remember(reading, receivedAt);
      return;
    }
    this.#remember(reading, receivedAt);
    this.#hooks.onHeard?.(sensorId);
    const before = this.#throttle.dropped;
    this.#throttle.push(reading.sensorId, reading);
    metrics.mqttThrottled.inc(this.#throttle.dropped - before);
  }

  /** Latest valid reading per sensor heard within the TTL (including ones the throttle holds). */
  latest(): Iterable<LatestReading> {
    this.#forgetSilent(this.#clock.now());
    return this.#latest.values();
  }

  /** Stops the throttle; readings it still holds are dropped. */
  close(): void {
    this.#throttle.close();
  }

  /**
   * Whether readings of `sensorId` are taken: a known sensor always; a new one while fewer than
   * the cap are known (sensors silent past the TTL are forgotten first), so a publisher inventing
   * ids can neither grow memory nor push established sensors out.
   */
  #known(sensorId: string, now: number): boolean {
    this.#forgetSilent(now);
    return this.#latest.has(sensorId) || this.#latest.size < this.#maxSensors;
  }

  /** Forgets sensors not heard for the TTL (the map is in the order they were last heard). */
  #forgetSilent(now: number): void {
    for (const [id, last] of this.#latest) {
      if (now - last.heardAt < this.#ttlMs) return;
      this.#latest.delete(id);
      this.#hooks.onForget?.(id);
    }
  }

  #remember(reading: LatestReading, heardAt: number): void {
    this.#latest.delete(reading.sensorId);
    this.#latest.set(reading.sensorId, { sensorId: reading.sensorId, text: reading.text, heardAt });
  }

  #logInvalid(topic: string, reason: InvalidReason, detail: string): void {
    let limiter = this.#invalidLog.get(reason);
    if (!limiter) {
      this.#invalidLog.set(reason, limiter = new LogLimiter(1, INVALID_LOG_INTERVAL_MS));
    }
    const decision = limiter.take(this.#clock.now());
    if (!decision.log) return;
    this.#logger.warn("invalid mqtt payload dropped", {
      topic: clip(topic),
      reason,
      detail: clip(detail),
      suppressed: decision.suppressed,
    });
  }
}
