/**
 * What happens to readings besides their fan-out: each sensor's recent history (for `history`
 * requests) and its staleness, with the `sensor_status` messages that staleness makes. Fed by
 * the bridge's ingest; read by connections (history replies, the stale statuses after the
 * connect snapshot) and by `/metrics`.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import { envelopeOf } from "../protocol/mod.ts";
import type { StreamConfig } from "./config.ts";
import { HistoryStore } from "./history.ts";
import type { Hub } from "./hub.ts";
import type { OutgoingReading } from "./ingest.ts";
import { type SensorStatus, Staleness } from "./staleness.ts";

/** A sensor's serialized `sensor_status`. */
export interface StatusText {
  sensorId: string;
  text: string;
}

/** History and staleness of every sensor. */
export class Stream {
  /** Each sensor's recent readings. */
  readonly history: HistoryStore;
  readonly #staleness: Staleness;
  readonly #hub: Hub;
  readonly #clock: Clock;
  readonly #keepHistory: boolean;

  /** Starts tracking; statuses go to the clients of `hub`. */
  constructor(config: StreamConfig, hub: Hub, clock: Clock) {
    this.#hub = hub;
    this.#clock = clock;
    this.#keepHistory = config.historyMs > 0;
    this.history = new HistoryStore({
      windowMs: config.historyMs,
      maxPerSensor: config.historyMax,
      now: () => clock.now(),
    });
    this.#staleness = new Staleness({
      staleAfterMs: config.staleAfterMs,
      clock,
      onChange: (sensorId, status, lastSeen) =>
        hub.publishStatus(sensorId, this.#statusText(sensorId, status, lastSeen)),
    });
  }

  /** A live reading of `sensorId` arrived (before the throttle): a stale sensor is live again. */
  heard(sensorId: string): void {
    this.#staleness.seen(sensorId);
  }

  /** A reading passed the throttle: kept in history, then sent to every client that sees it. */
  reading(r: OutgoingReading): void {
    if (this.#keepHistory) {
      const { moisture, temperature, humidity, light } = r.message.data;
      const at = Date.parse(r.message.timestamp);
      // Validated already, so the store cannot refuse it; if it ever did, the reading must
      // still go out live.
      try {
        this.history.add(r.sensorId, { at, moisture, temperature, humidity, light });
      } catch { /* not kept in history */ }
    }
    this.#hub.publishReading(r.sensorId, r.text);
  }

  /** The MQTT link went up or down: history is complete only while it stays up. */
  link(up: boolean): void {
    const now = this.#clock.now();
    if (up) this.history.linkUp(now);
    else this.history.linkDown(now);
  }

  /** The bridge forgot a sensor (silent past its TTL). */
  forget(sensorId: string): void {
    this.history.forget(sensorId);
    this.#staleness.forget(sensorId);
  }

  /** The bridge refused a reading of a new sensor (too many known) at `at`. */
  refused(at: number): void {
    this.history.refused(at);
  }

  /** `sensor_status` of every stale sensor, for a client's connect snapshot. */
  staleStatuses(): StatusText[] {
    return [...this.#staleness.stale()].map(([sensorId, lastSeen]) => ({
      sensorId,
      text: this.#statusText(sensorId, "stale", lastSeen),
    }));
  }

  /** Known sensors by status (`/metrics`). */
  counts(): { live: number; stale: number } {
    return this.#staleness.counts();
  }

  /** Stops the staleness timer. */
  close(): void {
    this.#staleness.close();
  }

  #statusText(sensorId: string, status: SensorStatus, lastSeen: number): string {
    const data = { sensor_id: sensorId, status, last_seen: new Date(lastSeen).toISOString() };
    return JSON.stringify(envelopeOf("sensor_status", data, new Date(this.#clock.now())));
  }
}
