/** The bridge against a real Mosquitto: broker down at start, broker killed mid-stream. */
import assert from "node:assert/strict";
import { freePort, publish, startMosquitto, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

Deno.test("readings flow through an external Mosquitto, with no embedded broker", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  assert.equal(server.embeddedBroker, false);
  assert.equal(server.mqttUrl, mosquitto.url);
  await using probe = await connectClient(server);
  await probe.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  await publish(mosquitto.url, [{ topic: "sensors/V5/data", payload: payload() }]);
  assert.equal((await probe.next("sensor_reading")).data.sensor_id, "V5");
});

Deno.test("serve starts with the broker down and readings flow once it is up", async () => {
  const port = freePort();
  await using server = await startTestServer({ mqtt: { url: `mqtt://127.0.0.1:${port}` } });
  const base = `http://127.0.0.1:${server.addr.port}`;
  await using probe = await connectClient(server);
  const status = await probe.next("bridge_status");
  assert.equal(status.data.mqtt, "disconnected");
  const notReady = await fetch(`${base}/readyz`);
  assert.equal(notReady.status, 503);
  assert.equal((await notReady.json()).mqtt, "disconnected");

  await using mosquitto = await startMosquitto(port);
  await probe.until(
    (m) => m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected"),
    5_000,
    "bridge_status connected",
  );
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  await publish(mosquitto.url, [{ topic: "sensors/V1/data", payload: payload() }]);
  assert.equal((await probe.next("sensor_reading")).data.sensor_id, "V1");
});

Deno.test("broker killed and restarted mid-stream: clients stay connected, readings resume", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using probe = await connectClient(server);
  const connected = (n: number) => () =>
    probe.messages.filter((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
      .length >= n;
  await probe.until(connected(1), 5_000, "first connect");
  await publish(mosquitto.url, [{ topic: "sensors/V1/data", payload: payload({ moisture: 1 }) }]);
  await probe.next("sensor_reading");

  await mosquitto.kill();
  await probe.until(
    (m) => m.some((x) => x.type === "bridge_status" && x.data.mqtt === "disconnected"),
    5_000,
    "bridge_status disconnected",
  );
  await mosquitto.restart();
  await probe.until(connected(2), 8_000, "reconnect");
  await publish(mosquitto.url, [{ topic: "sensors/V1/data", payload: payload({ moisture: 2 }) }]);
  await waitFor(() => probe.of("sensor_reading").length === 2, 3_000, "reading after restart");
  assert.deepEqual(probe.of("sensor_reading").map((r) => r.data.moisture), [1, 2]);
  assert.equal(probe.ws.readyState, WebSocket.OPEN);
});

Deno.test("the bridge logs in with MQTT username and password; a wrong password keeps it down", async () => {
  await using mosquitto = await startMosquitto(undefined, { users: { bridge: "s3cret-pass" } });
  await using good = await startTestServer({
    mqtt: { url: mosquitto.url, username: "bridge", password: "s3cret-pass" },
  });
  await using bad = await startTestServer({
    mqtt: { url: mosquitto.url, username: "bridge", password: "wrong" },
  });
  await using probe = await connectClient(good);
  await probe.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  await publish(`mqtt://bridge:s3cret-pass@127.0.0.1:${mosquitto.port}`, [
    { topic: "sensors/V2/data", payload: payload() },
  ]);
  assert.equal((await probe.next("sensor_reading")).data.sensor_id, "V2");
  await using refused = await connectClient(bad);
  assert.equal((await refused.next("bridge_status")).data.mqtt, "disconnected");
  assert.equal(bad.metrics.mqttConnects.value, 0);
});
