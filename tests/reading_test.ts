/** Validation of MQTT payloads, without sockets. */
import assert from "node:assert/strict";
import { parseReading, readingTime } from "../server/reading.ts";
import { SensorReadingSchema, topicMatcher } from "../protocol/mod.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const opts = {
  sensorIdOf: topicMatcher("sensors/+/data"),
  receivedAt: Date.UTC(2025, 11, 6, 14, 30),
};
const good = { moisture: 45.2, temperature: 22.1, humidity: 65.5, light: 800 };

Deno.test("a numeric or null timestamp falls back to the receive time, not a drop", () => {
  for (const timestamp of [1733495400, null, { at: 1 }]) {
    const r = parseReading("sensors/V1/data", enc({ ...good, timestamp }), opts);
    assert.ok(r.ok, String(timestamp));
    assert.equal(r.message.timestamp, "2025-12-06T14:30:00.000Z");
  }
});

Deno.test("parseReading accepts a valid payload and builds a schema-valid reading", () => {
  const r = parseReading("sensors/V1/data", enc(good), opts);
  assert.ok(r.ok);
  assert.equal(r.sensorId, "V1");
  assert.ok(SensorReadingSchema.safeParse(r.message).success);
  assert.equal(r.message.timestamp, "2025-12-06T14:30:00.000Z");
});

Deno.test("parseReading drops bad payloads with a reason", async (t) => {
  const cases: Array<[string, string, unknown, string]> = [
    ["id with bad characters", "sensors/V 1/data", good, "bad_topic"],
    ["id over 64 characters", `sensors/${"x".repeat(65)}/data`, good, "bad_topic"],
    ["other topic", "sensors/V1/status", good, "bad_topic"],
    ["not JSON", "sensors/V1/data", "{", "bad_json"],
    ["array", "sensors/V1/data", [good], "not_object"],
    ["null", "sensors/V1/data", null, "not_object"],
    ["missing field", "sensors/V1/data", { ...good, light: undefined }, "schema"],
    ["string number", "sensors/V1/data", { ...good, moisture: "45" }, "schema"],
    ["moisture over 100", "sensors/V1/data", { ...good, moisture: 100.1 }, "schema"],
    ["humidity below 0", "sensors/V1/data", { ...good, humidity: -1 }, "schema"],
    ["temperature below -50", "sensors/V1/data", { ...good, temperature: -51 }, "schema"],
    ["temperature over 100", "sensors/V1/data", { ...good, temperature: 101 }, "schema"],
    ["negative light", "sensors/V1/data", { ...good, light: -0.1 }, "schema"],
    ["sensor_id differs", "sensors/V1/data", { ...good, sensor_id: "V2" }, "sensor_id_mismatch"],
  ];
  for (const [name, topic, payload, reason] of cases) {
    await t.step(name, () => {
      const r = parseReading(topic, enc(payload), opts);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.reason, reason);
    });
  }
  await t.step("oversized payload", () => {
    const r = parseReading("sensors/V1/data", new Uint8Array(20_000), opts);
    assert.equal(r.ok ? "ok" : r.reason, "too_large");
  });
  await t.step("non-finite numbers cannot even be written as JSON", () => {
    const r = parseReading(
      "sensors/V1/data",
      enc('{"moisture":1e999,"temperature":1,"humidity":1,"light":1}'),
      opts,
    );
    assert.equal(r.ok ? "ok" : r.reason, "schema");
  });
});

Deno.test("readingTime uses the payload's ISO8601 time in UTC, else the receive time", () => {
  const received = Date.UTC(2026, 0, 1);
  assert.equal(readingTime("2025-12-06T14:30:00Z", received), "2025-12-06T14:30:00.000Z");
  assert.equal(readingTime("2025-12-06T15:30:00.5+01:00", received), "2025-12-06T14:30:00.500Z");
  assert.equal(readingTime("2025-12-06T14:30:00", received), "2025-12-06T14:30:00.000Z");
  assert.equal(readingTime("2024-02-29 23:59", received), "2024-02-29T23:59:00.000Z");
  const bad = [undefined, null, 1733495400, "", "now", "1733495400", "2025-13-45T99:00:00Z"];
  for (const b of [...bad, "2025-02-30T00:00:00Z", "2025-12-06T24:00:00Z"]) {
    assert.equal(readingTime(b, received), "2026-01-01T00:00:00.000Z", String(b));
  }
});
