/** History over the WebSocket with a real Mosquitto: gap-free reconnect, limits, scopes. */
import assert from "node:assert/strict";
import type { HistoryReading, ServerMessage } from "../protocol/mod.ts";
import { type Mosquitto, publish, startMosquitto, waitFor, WsProbe } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";
import type { ServerHandle } from "../server/server.ts";

type History = Extract<ServerMessage, { type: "history" }>;

/** Publishes `n` readings per sensor, 1 ms apart in reading time, moisture counting up. */
async function publishRun(mosquitto: Mosquitto, sensors: string[], n: number, from: number) {
  const start = Date.now();
  const messages = [];
  for (let i = 0; i < n; i++) {
    for (const [k, id] of sensors.entries()) {
      const timestamp = new Date(start + i * sensors.length + k).toISOString();
      messages.push({
        topic: `sensors/${id}/data`,
        payload: payload({ moisture: from + i, timestamp }),
      });
    }
  }
  await publish(mosquitto.url, messages);
}

async function ready(server: ServerHandle, probe: WsProbe) {
  await probe.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  await waitFor(() => server.metrics.mqttConnects.value > 0);
}

/** Waits for one `history` reply per sensor of `sensors`, returned by sensor id. */
async function historyOf(probe: WsProbe, sensors: string[]): Promise<Map<string, History["data"]>> {
  const got = new Map<string, History["data"]>();
  while (got.size < sensors.length) {
    const h = await probe.next("history");
    got.set(h.data.sensor_id, h.data);
  }
  return got;
}

const moistures = (rs: readonly HistoryReading[]) => rs.map((r) => r.moisture);

Deno.test("a client that reconnects gets exactly what it missed, then live readings with no gap", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  const first = await connectClient(server);
  await ready(server, first);
  await publishRun(mosquitto, ["V1", "V2"], 3, 0);
  await first.until((m) => m.filter((x) => x.type === "sensor_reading").length === 6);
  const last = new Map(first.of("sensor_reading").map((r) => [r.data.sensor_id, r.timestamp]));
  await first.close();

  await publishRun(mosquitto, ["V1", "V2"], 10, 50); // 20 readings while it is away
  await waitFor(() => server.metrics.readingsForwarded.value === 26, 3_000);
  await using again = await connectClient(server);
  again.send({ type: "history", since: Object.fromEntries(last) });
  const history = await historyOf(again, ["V1", "V2"]);
  for (const id of ["V1", "V2"]) {
    const h = history.get(id)!;
    assert.deepEqual(moistures(h.readings), Array.from({ length: 10 }, (_, i) => 50 + i), id);
    assert.equal(h.complete, true, "the server was subscribed all along");
    const times = h.readings.map((r) => Date.parse(r.timestamp));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), "oldest first");
    assert.ok(times[0]! > Date.parse(last.get(id)!), "strictly after since");
  }
  // Then live: the next readings follow the history's last one, nothing between.
  const live = again.of("sensor_reading").length; // the connect snapshot's
  await publishRun(mosquitto, ["V1"], 3, 80);
  await again.until((m) => m.filter((x) => x.type === "sensor_reading").length === live + 3);
  assert.deepEqual(
    again.of("sensor_reading").slice(live).map((r) => r.data.moisture),
    [80, 81, 82],
  );
  assert.ok(again.invalid.length === 0);
});

Deno.test("history: limit, relative since, default sensors, and the token's sensors claim", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using probe = await connectClient(server, { claims: { sensors: ["V1"] } });
  await ready(server, probe);
  await publishRun(mosquitto, ["V1", "V2"], 5, 0);
  await waitFor(() => server.metrics.readingsForwarded.value === 10);

  probe.send({ type: "history", since: "-5m", limit: 2 });
  const v1 = (await historyOf(probe, ["V1"])).get("V1")!;
  assert.deepEqual(moistures(v1.readings), [3, 4], "the 2 most recent, oldest first");
  assert.equal(v1.complete, false, "the server has not been running for 5 minutes");

  probe.send({ type: "history", sensors: ["V1", "V2"] });
  const error = await probe.next("error");
  assert.match(error.data.message, /not permitted by your token: V2/);
  assert.deepEqual(moistures((await historyOf(probe, ["V1"])).get("V1")!.readings), [
    0,
    1,
    2,
    3,
    4,
  ]);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(
    probe.of("history").every((h) => h.data.sensor_id === "V1"),
    "never another sensor's history",
  );

  probe.send({ type: "history", since: "yesterday" });
  assert.equal((await probe.next("error")).data.code, "invalid_message");
});

Deno.test("a large history goes out whole through a slow reader, paced, none dropped", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({
    mqtt: { url: mosquitto.url },
    limits: { maxBufferedBytes: 4 * 1024 },
  });
  await using probe = await connectClient(server);
  await ready(server, probe);
  const sensors = Array.from({ length: 40 }, (_, i) => `S${i}`);
  await publishRun(mosquitto, sensors, 25, 0);
  await waitFor(() => server.metrics.readingsForwarded.value === 1_000, 10_000);
  probe.send({ type: "history" });
  const history = await historyOf(probe, sensors);
  for (const id of sensors) assert.equal(history.get(id)!.readings.length, 25, id);
  assert.equal(server.metrics.wsDropped.value, 0);
});
