/**
 * The bridge and the broker's memory: retained messages only seed last known values, each
 * (re)connect subscribes once and reports the link up only on SUBACK, and oversized payloads
 * are dropped whatever the broker lets through.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { Aedes, type Client } from "aedes";
import mqtt from "mqtt";
import { type Bridge, startBridge } from "../server/bridge.ts";
import { DEFAULT_CONFIG } from "../server/config.ts";
import { Metrics } from "../server/metrics.ts";
import { startMosquitto, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

/**
 * A plain aedes broker the test can reach into: it counts SUBSCRIBE packets, can hold their
 * SUBACKs, and can drop every client from the broker side (which keeps its retained messages,
 * unlike a restart).
 */
async function startTestBroker() {
  let holding = false;
  const held: Array<() => void> = [];
  const aedes = await Aedes.createBroker({
    authorizeSubscribe: (_client, sub, done) => {
      if (holding) held.push(() => done(null, sub));
      else done(null, sub);
    },
  });
  let subscribes = 0;
  aedes.on("subscribe", () => subscribes++);
  const clients = new Set<Client>();
  aedes.on("clientReady", (c) => clients.add(c));
  aedes.on("clientDisconnect", (c) => clients.delete(c));
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    get subscribes() {
      return subscribes;
    },
    /** SUBSCRIBEs that arrived while holding, their SUBACK not yet sent. */
    get held() {
      return held.length;
    },
    hold(on: boolean) {
      holding = on;
      if (!on) held.splice(0).forEach((release) => release());
    },
    /** Closes every client connection at the broker, as a broker-side network drop would. */
    kick() {
      for (const c of clients) c.close();
    },
    async [Symbol.asyncDispose]() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Publishes `messages` with the retain flag set, at QoS 1. */
async function publishRetained(url: string, messages: Array<[topic: string, payload: string]>) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  try {
    for (const [topic, text] of messages) {
      await client.publishAsync(topic, text, { qos: 1, retain: true });
    }
  } finally {
    await client.endAsync();
  }
}

const reading = (overrides: Record<string, unknown>) => JSON.stringify(payload(overrides));

Deno.test("a retained reading seeds the last known value for later clients but is never sent live", async () => {
  await using broker = await startTestBroker();
  await publishRetained(broker.url, [["sensors/V1/data", reading({ moisture: 7 })]]);
  await using server = await startTestServer({ mqtt: { url: broker.url } });
  await using early = await connectClient(server);
  await waitFor(() => server.metrics.mqttRetained.value === 1, 5_000, "the retained reading");
  assert.equal(server.metrics.readingsForwarded.value, 0);

  await using later = await connectClient(server);
  await later.next("sensor_reading");
  assert.equal(later.of("sensor_reading")[0]!.data.moisture, 7, "greeted with the retained value");

  // The broker replays it on the bridge's next SUBSCRIBE; clients already here must not get it.
  const before = early.of("sensor_reading").length; // 0 or 1: the greeting, if early was late
  broker.kick();
  await waitFor(() => server.metrics.mqttRetained.value === 2, 5_000, "the replay after reconnect");
  const marker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  await marker.publishAsync("sensors/V2/data", reading({ moisture: 2 }), { qos: 1 });
  await marker.endAsync();
  await early.until((m) => m.some((x) => x.type === "sensor_reading" && x.data.sensor_id === "V2"));
  assert.equal(early.of("sensor_reading").length, before + 1, "only the live V2 reading");
  assert.equal(server.metrics.readingsForwarded.value, 1);
  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  assert.match(metrics, /^sensorstream_mqtt_messages_retained_total 2$/m);
});

Deno.test("a retained value replayed on reconnect does not replace one heard live", async () => {
  await using broker = await startTestBroker();
  await publishRetained(broker.url, [["sensors/V1/data", reading({ moisture: 7 })]]);
  await using server = await startTestServer({ mqtt: { url: broker.url } });
  await waitFor(() => server.metrics.mqttRetained.value === 1, 5_000, "the retained reading");
  const live = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  await live.publishAsync("sensors/V1/data", reading({ moisture: 20 }), { qos: 1 });
  await live.endAsync();
  await waitFor(() => server.metrics.readingsForwarded.value === 1, 3_000, "the live reading");

  broker.kick();
  await waitFor(() => server.metrics.mqttRetained.value === 2, 5_000, "the replay after reconnect");
  await using later = await connectClient(server);
  assert.equal((await later.next("sensor_reading")).data.moisture, 20);
  assert.equal(server.metrics.readingsForwarded.value, 1);
});

Deno.test("an invalid retained payload is counted as invalid and seeds nothing", async () => {
  await using broker = await startTestBroker();
  await publishRetained(broker.url, [
    ["sensors/V3/data", "{not json"],
    ["sensors/V4/data", reading({ moisture: 4 })],
  ]);
  await using server = await startTestServer({ mqtt: { url: broker.url } });
  await waitFor(() => server.metrics.mqttRetained.value === 2, 5_000, "both retained messages");
  assert.equal(server.metrics.mqttInvalid.get("bad_json"), 1);
  await using later = await connectClient(server);
  await later.next("sensor_reading");
  assert.deepEqual(later.of("sensor_reading").map((r) => r.data.sensor_id), ["V4"]);
});

Deno.test("each (re)connect sends one SUBSCRIBE, and the link is up only once it is acknowledged", async () => {
  await using broker = await startTestBroker();
  const statuses: boolean[] = [];
  let bridge: Bridge | undefined;
  try {
    bridge = startBridge({
      url: broker.url,
      mqtt: { ...DEFAULT_CONFIG.mqtt, reconnectMinMs: 50, reconnectMaxMs: 200 },
      rateLimitMs: 0,
      metrics: new Metrics(),
      onReading: () => {},
      onStatus: (up) => statuses.push(up),
    });
    await waitFor(() => bridge!.connected, 5_000, "first connect");
    assert.equal(broker.subscribes, 1);

    broker.hold(true);
    broker.kick();
    await waitFor(() => broker.held === 1, 5_000, "the SUBSCRIBE after reconnect");
    assert.equal(bridge.connected, false, "not up while the SUBACK is outstanding");
    assert.deepEqual(statuses, [true, false]);
    broker.hold(false);
    await waitFor(() => bridge!.connected, 3_000, "up after the SUBACK");
    assert.deepEqual(statuses, [true, false, true]);

    // A third connection, to see that nothing else was on its way from the second.
    broker.kick();
    await waitFor(() => statuses.length === 5, 5_000, "the third connect");
    assert.equal(broker.subscribes, 3, "one SUBSCRIBE per connection");
  } finally {
    await bridge?.close();
  }
});

Deno.test("against Mosquitto: a retained reading only seeds, and a 100 KiB payload is too_large", async () => {
  await using mosquitto = await startMosquitto();
  await publishRetained(mosquitto.url, [["sensors/V1/data", reading({ moisture: 7 })]]);
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await waitFor(() => server.metrics.mqttRetained.value === 1, 5_000, "the retained reading");
  // Mosquitto (unlike the embedded broker) passes 100 KiB on; the bridge still drops it.
  const big = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
  await big.publishAsync("sensors/V2/data", "x".repeat(100 * 1024), { qos: 1 });
  await big.publishAsync("sensors/V2/data", reading({ moisture: 2 }), { qos: 1 });
  await big.endAsync();
  await waitFor(() => server.metrics.readingsForwarded.value === 1, 3_000, "the valid V2 reading");
  assert.equal(server.metrics.mqttInvalid.get("too_large"), 1);
  await using later = await connectClient(server);
  await later.until((m) => m.filter((x) => x.type === "sensor_reading").length === 2);
  const seen = later.of("sensor_reading").map((r) => `${r.data.sensor_id}=${r.data.moisture}`);
  assert.deepEqual(seen.sort(), ["V1=7", "V2=2"]);
});
