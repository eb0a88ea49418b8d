/**
 * A field device played by an MQTT.js client: it records commands and answers as told, by a
 * script given at the start or by `ack` when the test says so.
 */
import mqtt, { type MqttClient } from "mqtt";
import { type CommandPublish, CommandPublishSchema } from "../protocol/mod.ts";
import { waitFor } from "./_helpers.ts";

/** What the device answers to a command: acks in order, each after its delay (ms). */
export type Answer = Array<
  { status: "accepted" | "done" | "failed"; detail?: string; after?: number }
>;

/** A device on the broker, subscribed to every sensor's command topic. */
export interface Device extends AsyncDisposable {
  /** Commands received, with their topic; `raw` when one did not match the schema. */
  readonly received: Array<{ topic: string; command: CommandPublish | undefined; raw: string }>;
  /** Waits until `n` commands came. */
  until(n: number, ms?: number): Promise<void>;
  /** Publishes an ack of command `id` on `sensorId`'s ack topic (QoS 1). */
  ack(
    sensorId: string,
    ack: { id: string; status: "accepted" | "done" | "failed"; detail?: string },
  ): Promise<void>;
}

/** Connects a device to `url`; `answer` says how it acks each command (default: silent). */
export async function startDevice(
  url: string,
  answer: (command: CommandPublish, topic: string) => Answer = () => [],
): Promise<Device> {
  const client: MqttClient = await mqtt.connectAsync(url, {
    reconnectPeriod: 0,
    connectTimeout: 3_000,
  });
  const received: Device["received"] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  client.on("message", (topic, payload) => {
    const raw = new TextDecoder().decode(payload);
    const parsed = CommandPublishSchema.safeParse(JSON.parse(raw));
    const command = parsed.success ? parsed.data : undefined;
    received.push({ topic, command, raw });
    if (!command) return;
    let at = 0;
    for (const ack of answer(command, topic)) {
      at += ack.after ?? 0;
      const timer = setTimeout(() => {
        timers.delete(timer);
        const body = {
          id: command.id,
          status: ack.status,
          ...(ack.detail ? { detail: ack.detail } : {}),
        };
        client.publish(`${topic}/ack`, JSON.stringify(body), { qos: 1 });
      }, at);
      timers.add(timer);
    }
  });
  await client.subscribeAsync("sensors/+/commands", { qos: 1 });
  return {
    received,
    until: (n, ms = 3_000) => waitFor(() => received.length >= n, ms, `${n} commands`),
    async ack(sensorId, ack) {
      await client.publishAsync(`sensors/${sensorId}/commands/ack`, JSON.stringify(ack), {
        qos: 1,
      });
    },
    async [Symbol.asyncDispose]() {
      for (const t of timers) clearTimeout(t);
      await client.endAsync(true);
    },
  };
}
