/**
 * The overload bench's publisher: readings round-robin over the sensors at a fixed rate, each
 * stamped with its publish time (ISO, ms), the last one of each sensor marked by a moisture
 * value no other reading carries, so clients can tell whether they ended on it.
 * @module
 */
import mqtt, { type MqttClient } from "mqtt";
import { readingAt } from "./ws_frames.ts";

/** What to publish. */
export interface PublishPlan {
  /** Readings per second, over all sensors. */
  rate: number;
  seconds: number;
  sensors: number;
}

/** How publishing went. */
export interface Published {
  count: number;
  /** Epoch ms of the first and just after the last publish. */
  startedAt: number;
  endedAt: number;
}

/** Readings in the plan. */
export function plannedCount(plan: PublishPlan): number {
  return Math.max(plan.sensors, Math.round(plan.rate * plan.seconds));
}

/** Connects a publisher to `url` (no reconnects, 5 s to connect). */
export function connectPublisher(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000 });
}

/**
 * Calls `onStart(epoch ms)`, then publishes the plan on schedule (catching up in bursts when
 * behind) and stops early when `halted()` (the server died). It does not wait for the broker:
 * an overloaded server reads its MQTT socket late, and that lag is part of what is measured.
 */
export async function publishPlan(
  client: MqttClient,
  plan: PublishPlan,
  options: { onStart(at: number): void; halted(): boolean },
): Promise<Published> {
  const total = plannedCount(plan);
  const startedAt = Date.now();
  options.onStart(startedAt);
  const start = performance.now();
  let count = 0;
  for (; count < total && !options.halted(); count++) {
    const wait = start + (count * 1000) / plan.rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const { topic, payload } = readingAt(count, { total, sensors: plan.sensors, at: new Date() });
    client.publish(topic, payload);
  }
  return { count, startedAt, endedAt: Date.now() };
}

/** Disconnects, giving queued readings `ms` to be written; then forces the socket closed. */
export async function closePublisher(client: MqttClient, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = client.endAsync().then(() => true, () => false);
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  if (!(await Promise.race([ended, timeout]))) client.end(true);
  clearTimeout(timer);
}
