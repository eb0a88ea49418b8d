/** Sensor staleness over the WebSocket, on the injected clock, with a real Mosquitto. */
import assert from "node:assert/strict";
import { FakeClock } from "./_fake_clock.ts";
import { publish, startMosquitto, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

Deno.test("a sensor that stops becomes stale, and live again on its next reading", async () => {
  await using mosquitto = await startMosquitto();
  const clock = new FakeClock(Date.now());
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } }, { clock });
  await using all = await connectClient(server);
  await using onlyV2 = await connectClient(server, { claims: { sensors: ["V2"] } });
  await all.until((m) => m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected"));
  for (let i = 0; i < 5; i++) {
    await publish(mosquitto.url, [{ topic: "sensors/V1/data", payload: payload() }]);
    await waitFor(() => server.metrics.readingsForwarded.value === i + 1);
    if (i < 4) clock.advance(1_000);
  }
  const lastSeen = new Date(clock.now()).toISOString();
  clock.advance(9_999); // 1/s: stale after max(10 s, 3 × 1 s) of silence
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(all.of("sensor_status").length, 0, "not before 10 s");
  clock.advance(1);
  const stale = await all.next("sensor_status");
  assert.deepEqual(stale.data, { sensor_id: "V1", status: "stale", last_seen: lastSeen });
  assert.match(server.metrics.render(), /^sensorstream_sensors\{status="stale"\} 1$/m);

  // A client that connects now learns it right after the snapshot.
  await using late = await connectClient(server);
  await late.next("sensor_status");
  const types = late.messages.map((m) => m.type);
  assert.ok(types.indexOf("sensor_status") > types.indexOf("sensor_reading"), types.join(","));

  await publish(mosquitto.url, [{ topic: "sensors/V1/data", payload: payload({ moisture: 9 }) }]);
  const live = await all.next("sensor_status");
  assert.equal(live.data.status, "live");
  await all.until((m) => m.filter((x) => x.type === "sensor_reading").length === 6);
  const order = all.messages.map((m) => m.type === "sensor_reading" ? m.data.moisture : m.type);
  assert.deepEqual(order.slice(-2), ["sensor_status", 9], "live is said before the reading");
  assert.match(server.metrics.render(), /^sensorstream_sensors\{status="live"\} 1$/m);
  // A token scoped to V2 never hears about V1.
  assert.equal(onlyV2.of("sensor_status").length, 0);
});
