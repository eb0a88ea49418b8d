/**
 * MQTT publishing for the abuse suite: many messages at QoS 1 over a few MQTT.js clients with a
 * bounded window, oversized ones from throwaway clients the broker is expected to drop, and a
 * steady-rate publisher.
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { pool, sleep } from "./abuse_ws.ts";

/** A message to publish. */
export interface Outgoing {
  topic: string;
  payload: Uint8Array;
}

/** How a batch of QoS 1 publishes went. */
export interface PublishTally {
  /** PUBACKed by the broker. */
  acked: number;
  /** Failed or not acknowledged within the deadline. */
  failed: number;
  /** Times a publisher's connection closed under it. */
  disconnects: number;
  /** First few errors, for the report. */
  errors: string[];
}

const CONNECT = { reconnectPeriod: 0, connectTimeout: 5_000 } as const;
/** Longest a QoS 1 publish may wait for its PUBACK, ms. */
const ACK_TIMEOUT_MS = 15_000;

const bytes = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

/** Rejects when `promise` does not settle within `ms`. */
export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Publishes every message at QoS 1 from `clients` connections, `window` in flight on each. */
export async function publishAll(
  url: string,
  messages: readonly Outgoing[],
  options: { clients: number; window: number },
): Promise<PublishTally> {
  const tally: PublishTally = { acked: 0, failed: 0, disconnects: 0, errors: [] };
  const fail = (error: unknown) => {
    tally.failed++;
    if (tally.errors.length < 5) tally.errors.push(String((error as Error)?.message ?? error));
  };
  await Promise.all(Array.from({ length: options.clients }, async (_, k) => {
    const mine = messages.filter((_, i) => i % options.clients === k);
    const client = await mqtt.connectAsync(url, { ...CONNECT, clientId: `abuse-pub-${k}` });
    client.on("close", () => tally.disconnects++);
    try {
      await pool(mine, options.window, async (m) => {
        try {
          await deadline(
            client.publishAsync(m.topic, bytes(m.payload), { qos: 1 }),
            ACK_TIMEOUT_MS,
            "PUBACK",
          );
          tally.acked++;
        } catch (error) {
          fail(error);
        }
      });
    } finally {
      client.removeAllListeners("close");
      await client.endAsync(true).catch(() => {});
    }
  }));
  return tally;
}

/** What became of one oversized publish. */
export type Refusal = "connection closed" | "acknowledged" | "no answer" | "connect failed";

/** Publishes each message from a fresh client and reports whether the broker cut it off. */
export async function publishEachFromThrowaway(
  url: string,
  messages: readonly Outgoing[],
): Promise<Map<Refusal, number>> {
  const out = new Map<Refusal, number>();
  for (const m of messages) {
    const outcome = await throwaway(url, m);
    out.set(outcome, (out.get(outcome) ?? 0) + 1);
  }
  return out;
}

async function throwaway(url: string, m: Outgoing): Promise<Refusal> {
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(url, CONNECT);
  } catch {
    return "connect failed";
  }
  try {
    const closed = new Promise<Refusal>((r) => client.once("close", () => r("connection closed")));
    const acked = new Promise<Refusal>((r) =>
      client.publish(m.topic, bytes(m.payload), { qos: 1 }, (error) => !error && r("acknowledged"))
    );
    return await deadline(Promise.race([closed, acked]), 5_000, "refusal").catch(() => "no answer");
  } finally {
    client.end(true);
  }
}

/** A publisher sending one reading every `1000 / rate` ms over `sensors`, until stopped. */
export async function steadyPublisher(
  url: string,
  options: { sensors: readonly string[]; rate: number },
): Promise<{ stop(): Promise<PublishTally> }> {
  const client = await mqtt.connectAsync(url, { ...CONNECT, clientId: "abuse-steady" });
  const tally: PublishTally = { acked: 0, failed: 0, disconnects: 0, errors: [] };
  client.on("close", () => tally.disconnects++);
  const pending: Promise<void>[] = [];
  let running = true;
  const loop = (async () => {
    const start = performance.now();
    for (let k = 0; running; k++) {
      const wait = start + (k * 1000) / options.rate - performance.now();
      if (wait > 0) await sleep(wait);
      const sensor = options.sensors[k % options.sensors.length]!;
      const payload = JSON.stringify({
        moisture: k % 100,
        temperature: 20,
        humidity: 50,
        light: k,
      });
      pending.push(
        deadline(
          client.publishAsync(`sensors/${sensor}/data`, payload, { qos: 1 }),
          ACK_TIMEOUT_MS,
          "PUBACK",
        )
          .then(() => void tally.acked++, (e) => {
            tally.failed++;
            if (tally.errors.length < 5) tally.errors.push(String(e?.message ?? e));
          }),
      );
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(pending);
      client.removeAllListeners("close");
      await client.endAsync(true).catch(() => {});
      return tally;
    },
  };
}
