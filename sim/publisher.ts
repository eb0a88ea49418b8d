/**
 * Publishing with a bound on the messages in flight, and the flush at the end of a run: memory
 * stays bounded when the broker is slower than the schedule.
 * @module
 */
import type { MqttClient } from "mqtt";
import { sensorTopic } from "../protocol/mod.ts";
import type { SimMessage } from "./payloads.ts";
import { withTimeout } from "./wait.ts";

/** Publishes in flight at once. */
export const MAX_IN_FLIGHT = 256;
/** How often a wait for room looks at the abort signal, ms. */
const ROOM_CHECK_MS = 250;

/** Called once per message: the broker took it (QoS 1), it was written (QoS 0), or it failed. */
export type OnSettled = (message: SimMessage, error: Error | undefined) => void;

/** Publishes a run's messages to `sensorTopic(id, topic)` and keeps count of those in flight. */
export class Publisher {
  readonly #client: MqttClient;
  readonly #o: { topic: string; qos: 0 | 1 };
  readonly #onSettled: OnSettled;
  #pending = 0;
  #wake: (() => void) | undefined;

  /** A publisher on a connected client. */
  constructor(client: MqttClient, options: { topic: string; qos: 0 | 1 }, onSettled: OnSettled) {
    this.#client = client;
    this.#o = options;
    this.#onSettled = onSettled;
  }

  /** Messages published and not yet settled. */
  get pending(): number {
    return this.#pending;
  }

  /** Waits while {@link MAX_IN_FLIGHT} messages are in flight, or until `signal` aborts. */
  async room(signal?: AbortSignal): Promise<void> {
    // Looks at the signal now and then: a stalled broker must not hold off Ctrl-C.
    while (this.#pending >= MAX_IN_FLIGHT && !signal?.aborted) {
      await withTimeout(new Promise<void>((r) => this.#wake = r), ROOM_CHECK_MS);
    }
  }

  /** Publishes `message`; its outcome goes to `onSettled`. */
  publish(message: SimMessage): void {
    this.#pending++;
    const topic = sensorTopic(message.sensorId, this.#o.topic);
    this.#client.publish(topic, message.payload, { qos: this.#o.qos }, (error) => {
      this.#pending--;
      this.#wake?.();
      // MQTT.js passes null, not undefined, for a QoS 1 publish the broker took.
      this.#onSettled(message, error || undefined);
    });
  }

  /** Resolves `true` once nothing is in flight, or `false` when `ms` passed first. */
  async flush(ms: number): Promise<boolean> {
    if (this.#pending === 0) return true;
    return await withTimeout(
      new Promise<void>((resolve) => this.#wake = () => this.#pending === 0 && resolve()),
      ms,
    );
  }
}
