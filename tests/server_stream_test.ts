/** Readings from MQTT to WebSocket clients, through the embedded broker. */
import assert from "node:assert/strict";
import { mintTestToken, publish, rawWebSocketPeer, waitFor, within, WsProbe } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";
import type { ServerHandle } from "../server/server.ts";
import { FakeClock } from "./_fake_clock.ts";
import { scrape, waitForMetric } from "./_http.ts";

/** Waits until /readyz says the MQTT link is up. */
async function bridgeUp(server: ServerHandle): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (true) {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/readyz`);
    await res.body?.cancel();
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error("bridge did not connect within 5 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("one MQTT publish reaches 100 concurrent clients, each exactly once", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  const clients = await Promise.all(Array.from({ length: 100 }, () => connectClient(server)));
  try {
    await Promise.all(clients.map((c) => c.next("connection_status")));
    assert.equal(
      Math.max(...clients.map((c) => c.of("connection_status")[0]!.data.active_clients)),
      100,
    );
    await publish(server.mqttUrl, [{ topic: "sensors/V3/data", payload: payload() }]);
    await Promise.all(clients.map((c) => c.next("sensor_reading", 5_000)));
    // A second, later reading proves nothing else was still on its way.
    await publish(server.mqttUrl, [{ topic: "sensors/V4/data", payload: payload() }]);
    await Promise.all(
      clients.map((c) => c.until((m) => m.filter((x) => x.type === "sensor_reading").length >= 2)),
    );
    for (const c of clients) {
      assert.deepEqual(c.of("sensor_reading").map((r) => r.data.sensor_id), ["V3", "V4"]);
      assert.deepEqual(c.invalid, []);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  await waitFor(() => server.metrics.connections.value === 100, 1_000);
});

Deno.test("readings carry the payload's timestamp in UTC with ms, else the receive time", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  await using probe = await connectClient(server);
  await probe.next("connection_status");
  const before = Date.now();
  await publish(server.mqttUrl, [
    { topic: "sensors/V1/data", payload: payload({ timestamp: "2025-12-06T15:30:00+01:00" }) },
    { topic: "sensors/V2/data", payload: payload({ timestamp: "yesterday" }) },
    { topic: "sensors/V3/data", payload: payload({ sensor_id: "V3", extra: "ignored" }) },
  ]);
  await probe.until((m) => m.filter((x) => x.type === "sensor_reading").length === 3);
  const [v1, v2, v3] = probe.of("sensor_reading");
  assert.equal(v1!.timestamp, "2025-12-06T14:30:00.000Z");
  assert.ok(Date.parse(v2!.timestamp) >= before - 1 && Date.parse(v2!.timestamp) <= Date.now());
  assert.match(v3!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(v3!.data, {
    sensor_id: "V3",
    moisture: 45.2,
    temperature: 22.1,
    humidity: 65.5,
    light: 800,
  });
});

Deno.test("invalid MQTT payloads are counted by reason and skipped while valid ones flow", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  await using probe = await connectClient(server);
  await probe.next("connection_status");
  await publish(server.mqttUrl, [
    { topic: "sensors/V1/data", payload: "{not json" },
    { topic: "sensors/V1/data", payload: payload({ moisture: 140 }) },
    { topic: "sensors/V1/data", payload: payload({ temperature: "hot" }) },
    { topic: "sensors/V1/data", payload: "[1,2]" },
    { topic: "sensors/V1/data", payload: payload({ sensor_id: "V2" }) },
    { topic: "sensors/bad!id/data", payload: payload() },
    { topic: "sensors/V1/data", payload: payload({ moisture: 10 }) },
  ]);
  await probe.next("sensor_reading");
  const m = server.metrics;
  await waitFor(() => m.mqttReceived.value === 7, 2_000, "all received");
  assert.equal(m.mqttInvalid.get("bad_json"), 1);
  assert.equal(m.mqttInvalid.get("schema"), 2);
  assert.equal(m.mqttInvalid.get("not_object"), 1);
  assert.equal(m.mqttInvalid.get("sensor_id_mismatch"), 1);
  assert.equal(m.mqttInvalid.get("bad_topic"), 1);
  assert.deepEqual(probe.of("sensor_reading").map((r) => r.data.moisture), [10]);
  const metrics = await (await fetch(`http://127.0.0.1:${server.addr.port}/metrics`)).text();
  assert.match(metrics, /sensorstream_mqtt_messages_invalid_total\{reason="schema"\} 2/);
});

Deno.test("the per-sensor throttle sends the first reading at once and the latest at window end", async () => {
  // The throttle's window runs on the injected clock: the test moves it instead of waiting.
  const clock = new FakeClock(Date.now());
  await using server = await startTestServer({ limits: { rateLimitMs: 400 } }, { clock });
  await bridgeUp(server);
  await using probe = await connectClient(server);
  await probe.next("connection_status");
  const readings = () =>
    probe.of("sensor_reading").map((r) => `${r.data.sensor_id}=${r.data.moisture}`);
  await publish(
    server.mqttUrl,
    [1, 2, 3].map((moisture) => ({
      topic: "sensors/V1/data",
      payload: payload({ moisture }),
    })),
  );
  await publish(server.mqttUrl, [{ topic: "sensors/V2/data", payload: payload({ moisture: 9 }) }]);
  // V1's first goes out at once and V2 is independent; V1's 2 and 3 wait for its window to end.
  await waitForMetric(server.httpUrl, "sensorstream_mqtt_messages_received_total", (n) => n === 4);
  // A pong comes after everything the server sent this client before it.
  const flushed = async () => {
    probe.send({ type: "ping" });
    await probe.next("pong");
  };
  await flushed();
  assert.deepEqual(readings(), ["V1=1", "V2=9"]);
  clock.advance(399);
  await flushed();
  assert.deepEqual(readings(), ["V1=1", "V2=9"]);
  // The window ends: V1's latest (3) goes out; 2 was superseded.
  clock.advance(1);
  await probe.until((m) => m.filter((x) => x.type === "sensor_reading").length === 3);
  assert.deepEqual(readings(), ["V1=1", "V2=9", "V1=3"]);
  assert.equal(await scrape(server.httpUrl, "sensorstream_mqtt_messages_throttled_total"), 1);
});

Deno.test("a new client first gets the last known reading of every sensor it may see", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  await publish(server.mqttUrl, [
    { topic: "sensors/V1/data", payload: payload({ moisture: 1 }) },
    { topic: "sensors/V1/data", payload: payload({ moisture: 2 }) },
    { topic: "sensors/V2/data", payload: payload({ moisture: 3 }) },
  ]);
  await waitFor(() => server.metrics.readingsForwarded.value === 3, 2_000);
  await using probe = await connectClient(server, { sensors: "V1" });
  await probe.next("sensor_reading");
  assert.deepEqual(probe.messages.map((x) => x.type), [
    "connection_status",
    "bridge_status",
    "sensor_reading",
  ]);
  assert.equal(probe.of("sensor_reading")[0]!.data.moisture, 2);
});

Deno.test("subscriptions: ?sensors= at connect, then subscribe/unsubscribe messages", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  await using probe = await connectClient(server, { sensors: "V1,V3" });
  await probe.next("connection_status");
  const send = (id: string, moisture: number) =>
    publish(server.mqttUrl, [{ topic: `sensors/${id}/data`, payload: payload({ moisture }) }]);
  await send("V2", 1);
  await send("V3", 2);
  await probe.until((m) => m.some((x) => x.type === "sensor_reading"));
  probe.send({ type: "subscribe", sensors: ["V2"] });
  assert.deepEqual((await probe.next("subscriptions")).data.sensors, ["V1", "V2", "V3"]);
  probe.send({ type: "unsubscribe", sensors: ["V1", "V3"] });
  assert.deepEqual((await probe.next("subscriptions")).data.sensors, ["V2"]);
  await send("V3", 3);
  await send("V2", 4);
  await probe.until((m) => m.filter((x) => x.type === "sensor_reading").length === 2);
  assert.deepEqual(probe.of("sensor_reading").map((r) => r.data.moisture), [2, 4]);
});

Deno.test("client messages: ping gets pong, garbage gets an error, endless garbage gets 1008", async () => {
  await using server = await startTestServer();
  const probe = await connectClient(server);
  await probe.next("connection_status");
  probe.send({ type: "ping" });
  await probe.next("pong");
  const cases: Array<[unknown, string]> = [
    ["{oops", "bad_json"],
    [{ type: "dance" }, "unknown_type"],
    [{ type: "subscribe", sensors: "V1" }, "invalid_message"],
    ["x".repeat(70 * 1024), "message_too_large"],
  ];
  for (const [msg, code] of cases) {
    probe.send(msg);
    assert.equal((await probe.next("error")).data.code, code);
  }
  probe.ws.send(new Uint8Array([1, 2, 3]));
  assert.equal((await probe.next("error")).data.code, "binary_not_supported");
  // One at a time, each after the previous error came back, until the server gives up.
  for (let i = 0; i < 30 && probe.ws.readyState === WebSocket.OPEN; i++) {
    const errors = probe.of("error").length;
    probe.send("nope");
    await probe.until(() => probe.isClosed || probe.of("error").length > errors);
  }
  assert.deepEqual(await within(3_000, probe.closed), {
    code: 1008,
    reason: "too many invalid messages",
  });
  assert.deepEqual(probe.invalid, []);
});

Deno.test("a client flooding garbage still receives its 1008 close frame and reason", async () => {
  // Deno drops a closing socket as soon as one more frame arrives; the server waits for the
  // flood to pause before it closes, so the reason is not lost.
  await using server = await startTestServer();
  const probes = await Promise.all(Array.from({ length: 20 }, () => connectClient(server)));
  for (const probe of probes) {
    await probe.next("connection_status");
    for (let i = 0; i < 100; i++) probe.send("garbage");
  }
  for (const probe of probes) {
    assert.deepEqual(await within(5_000, probe.closed), {
      code: 1008,
      reason: "too many invalid messages",
    });
  }
});

Deno.test("closed clients are forgotten and active_clients counts the others", async () => {
  await using server = await startTestServer();
  const a = await connectClient(server);
  await a.next("connection_status");
  await using b = await connectClient(server);
  assert.equal((await b.next("connection_status")).data.active_clients, 2);
  await a.close();
  let text = "";
  const scrape = async () => {
    text = await (await fetch(`http://127.0.0.1:${server.addr.port}/metrics`)).text();
    return /^sensorstream_clients 1$/m.test(text);
  };
  const deadline = Date.now() + 2_000;
  while (!(await scrape())) {
    assert.ok(Date.now() < deadline, `one client left, metrics say: ${text.slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await using c = await connectClient(server);
  assert.equal((await c.next("connection_status")).data.active_clients, 2);
});

Deno.test("a client that vanishes mid-stream is dropped while the others keep receiving", async () => {
  await using server = await startTestServer();
  await bridgeUp(server);
  await using steady = await connectClient(server);
  await steady.next("connection_status");
  // A raw TCP peer that completes the handshake and then disappears without a close frame.
  const peer = await rawWebSocketPeer(server.addr.port, await mintTestToken());
  await waitFor(() => server.metrics.connections.value === 2, 2_000, "both admitted");
  peer.close();
  for (let i = 1; i <= 5; i++) {
    await publish(server.mqttUrl, [{ topic: "sensors/V1/data", payload: payload({ light: i }) }]);
  }
  await steady.until((m) => m.filter((x) => x.type === "sensor_reading").length === 5);
  assert.deepEqual(steady.of("sensor_reading").map((r) => r.data.light), [1, 2, 3, 4, 5]);
  const deadline = Date.now() + 3_000;
  while (
    !/^sensorstream_clients 1$/m.test(
      await (await fetch(`http://127.0.0.1:${server.addr.port}/metrics`)).text(),
    )
  ) {
    assert.ok(Date.now() < deadline, "the vanished client was removed");
    await new Promise((r) => setTimeout(r, 20));
  }
});

Deno.test("health, readiness and metrics endpoints answer", async () => {
  await using server = await startTestServer();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await bridgeUp(server);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).mqtt, "connected");
  const metrics = await fetch(`${base}/metrics`);
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
  const text = await metrics.text();
  for (const name of ["sensorstream_clients", "sensorstream_delivery_latency_seconds_bucket"]) {
    assert.ok(text.includes(name), `metrics mention ${name}`);
  }
  const missing = await fetch(`${base}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("shutdown closes every client with 1001", async () => {
  const server = await startTestServer();
  const probe = new WsProbe(`${server.wsUrl}?token=${await mintTestToken()}`);
  await probe.next("connection_status");
  await within(5_000, server.shutdown(), "shutdown");
  assert.deepEqual(await within(2_000, probe.closed), {
    code: 1001,
    reason: "server shutting down",
  });
});
