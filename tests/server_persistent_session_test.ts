/** A fixed MQTT client id: the broker holds readings while serve restarts, and history has them. */
import assert from "node:assert/strict";
import { publish, startMosquitto, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

Deno.test("with --mqtt-client-id and QoS 1, readings published while serve is down reach it", async () => {
  await using mosquitto = await startMosquitto();
  const options = { mqtt: { url: mosquitto.url, clientId: "sensorstream-test", qos: 1 as const } };
  const first = await startTestServer(options);
  await waitFor(() => first.metrics.mqttConnects.value > 0);
  await using early = await connectClient(first);
  await early.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  await first.shutdown();

  const t0 = Date.now();
  const missed = [1, 2, 3].map((moisture, i) => ({
    topic: "sensors/V1/data",
    payload: payload({ moisture, timestamp: new Date(t0 + i).toISOString() }),
  }));
  await publish(mosquitto.url, missed); // nobody subscribed now: the broker keeps them

  await using second = await startTestServer(options);
  await waitFor(() => second.metrics.readingsForwarded.value === 3, 5_000, "queued readings");
  await using probe = await connectClient(second);
  probe.send({ type: "history", since: new Date(t0 - 1).toISOString() });
  const history = await probe.next("history");
  assert.deepEqual(history.data.readings.map((r) => r.moisture), [1, 2, 3]);
  assert.equal(history.data.complete, false, "this process was not subscribed all along");
});
