/** The bridge's handling of MQTT messages, without a broker: parse, remember, throttle. */
import assert from "node:assert/strict";
import { Ingest, type OutgoingReading } from "../server/ingest.ts";
import { Metrics } from "../server/metrics.ts";
import { FakeClock } from "./_fake_clock.ts";
import { recordingLogger } from "./_helpers.ts";

const enc = new TextEncoder();
const reading = (over: Record<string, unknown> = {}) =>
  enc.encode(JSON.stringify({ moisture: 40, temperature: 20, humidity: 50, light: 100, ...over }));

function setup(rateLimitMs = 0, limits: { maxSensors?: number; sensorTtlMs?: number } = {}) {
  const clock = new FakeClock(Date.UTC(2025, 11, 6, 14, 30));
  const metrics = new Metrics();
  const { logger, lines } = recordingLogger();
  const out: OutgoingReading[] = [];
  const ingest = new Ingest({
    topic: "sensors/+/data",
    rateLimitMs,
    ...limits,
    metrics,
    logger,
    clock,
    onReading: (r) => out.push(r),
  });
  return { clock, metrics, lines, out, ingest };
}

Deno.test("ingest", async (t) => {
  await t.step("a valid message goes out serialized once, stamped, and becomes the latest", () => {
    const { ingest, out, metrics } = setup();
    ingest.take("sensors/V1/data", reading({ timestamp: "2025-12-06T14:00:00Z" }));
    assert.equal(out.length, 1);
    const message = JSON.parse(out[0]!.text);
    assert.equal(message.type, "sensor_reading");
    assert.equal(message.data.sensor_id, "V1");
    assert.equal(message.timestamp, "2025-12-06T14:00:00.000Z");
    assert.deepEqual([...ingest.latest()].map((l) => l.text), [out[0]!.text]);
    assert.equal(metrics.mqttReceived.value, 1);
  });

  await t.step("invalid messages are counted by reason and logged once per reason per 10 s", () => {
    const { ingest, out, metrics, lines, clock } = setup();
    for (let i = 0; i < 5; i++) ingest.take("sensors/V1/data", enc.encode("{nope"));
    ingest.take("sensors/V 1/data", reading());
    assert.equal(out.length, 0);
    assert.equal(metrics.mqttInvalid.get("bad_json"), 5);
    assert.equal(metrics.mqttInvalid.get("bad_topic"), 1);
    const logged = () => lines.filter((l) => l.event === "invalid mqtt payload dropped");
    assert.deepEqual(logged().map((l) => l.fields.reason), ["bad_json", "bad_topic"]);
    clock.advance(10_000);
    ingest.take("sensors/V1/data", enc.encode("{nope"));
    assert.equal(logged().length, 3);
    assert.equal(logged()[2]!.fields.suppressed, 4);
  });

  await t.step("a retained message seeds the latest value only, and never replaces one", () => {
    const { ingest, out, metrics } = setup();
    ingest.take("sensors/V1/data", reading({ moisture: 10 }), true);
    assert.equal(out.length, 0);
    assert.equal(JSON.parse([...ingest.latest()][0]!.text).data.moisture, 10);
    ingest.take("sensors/V1/data", reading({ moisture: 20 }));
    ingest.take("sensors/V1/data", reading({ moisture: 30 }), true);
    assert.equal(JSON.parse([...ingest.latest()][0]!.text).data.moisture, 20);
    assert.equal(metrics.mqttRetained.value, 2);
  });

  await t.step(
    "the throttle sends the first of a burst at once and the latest at the window end",
    () => {
      const { ingest, out, metrics, clock } = setup(1_000);
      for (const moisture of [1, 2, 3]) ingest.take("sensors/V1/data", reading({ moisture }));
      assert.deepEqual(out.map((r) => JSON.parse(r.text).data.moisture), [1]);
      clock.advance(1_000);
      assert.deepEqual(out.map((r) => JSON.parse(r.text).data.moisture), [1, 3]);
      assert.equal(metrics.mqttThrottled.value, 1);
      ingest.close();
    },
  );

  await t.step(
    "a publisher inventing ids cannot grow memory or push established sensors out",
    () => {
      const { ingest, out, metrics, lines } = setup();
      for (const id of ["V1", "V2", "V3", "V4", "V5"]) ingest.take(`sensors/${id}/data`, reading());
      for (let i = 0; i < 20_000; i++) ingest.take(`sensors/X${i}/data`, reading());
      const ids = new Set([...ingest.latest()].map((l) => l.sensorId));
      assert.equal(ids.size, 10_000, "the default cap");
      for (const id of ["V1", "V2", "V3", "V4", "V5"]) assert.ok(ids.has(id), id);
      assert.ok(!ids.has("X9995"), "the first id beyond the cap was refused");
      assert.equal(metrics.mqttInvalid.get("too_many_sensors"), 20_000 - 9_995);
      const refusals = lines.filter((l) => l.fields.reason === "too_many_sensors");
      assert.equal(refusals.length, 1, "logged once per 10 s, not per reading");
      // Established sensors still flow.
      const before = out.length;
      ingest.take("sensors/V3/data", reading({ moisture: 12 }));
      assert.equal(out.length, before + 1);
      assert.equal(JSON.parse(out.at(-1)!.text).data.moisture, 12);
    },
  );

  await t.step("a sensor silent for the TTL is forgotten, making room for a new one", () => {
    const { ingest, clock, metrics } = setup(0, { maxSensors: 2, sensorTtlMs: 60_000 });
    ingest.take("sensors/V1/data", reading());
    clock.advance(30_000);
    ingest.take("sensors/V2/data", reading());
    ingest.take("sensors/V3/data", reading());
    assert.equal(metrics.mqttInvalid.get("too_many_sensors"), 1, "full: V3 refused");
    clock.advance(30_000); // V1 silent for exactly the TTL
    assert.deepEqual([...ingest.latest()].map((l) => l.sensorId), ["V2"]);
    ingest.take("sensors/V3/data", reading());
    assert.deepEqual([...ingest.latest()].map((l) => l.sensorId), ["V2", "V3"]);
    assert.equal(metrics.mqttInvalid.get("too_many_sensors"), 1);
  });
});
