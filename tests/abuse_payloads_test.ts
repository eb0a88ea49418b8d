/** The abuse suite's generators (`bench/abuse_payloads.ts`, `bench/abuse_client_messages.ts`). */
import assert from "node:assert/strict";
import { invalidClientMessages } from "../bench/abuse_client_messages.ts";
import {
  FUZZ_FILTER,
  type FuzzKind,
  type FuzzOutcome,
  generateFuzz,
  matchesFilter,
} from "../bench/abuse_payloads.ts";
import { MAX_MQTT_PACKET_BYTES } from "../server/broker_limits.ts";
import type { Hub } from "../server/hub.ts";
import { Metrics } from "../server/metrics.ts";
import { topicMatcher } from "../protocol/mod.ts";
import { parseReading } from "../server/reading.ts";
import { ClientSession } from "../server/session.ts";
import { createRandom } from "../sim/random.ts";

const SEED = 20_251_206;
const messages = generateFuzz(SEED);
const sensorIdOf = topicMatcher(FUZZ_FILTER);
/** Bytes of a QoS 1 PUBLISH: fixed header (at most 5), topic length and topic, message id. */
const packetBytes = (topic: string, payload: Uint8Array) =>
  5 + 2 + new TextEncoder().encode(topic).byteLength + 2 + payload.byteLength;

Deno.test("the same seed gives the same messages, another seed others", () => {
  assert.deepEqual(generateFuzz(SEED, { count: 500 }), generateFuzz(SEED, { count: 500 }));
  assert.notDeepEqual(generateFuzz(SEED, { count: 500 }), generateFuzz(SEED + 1, { count: 500 }));
});

Deno.test("the mix holds every kind and every outcome, about 40 % valid over ~50 sensors", () => {
  assert.equal(messages.length, 10_000);
  const kinds = new Set<FuzzKind>(messages.map((m) => m.kind));
  const all: FuzzKind[] = [
    "valid",
    "random_json",
    "deep_nesting",
    "invalid_utf8",
    "id_mismatch",
    "too_large",
    "oversize",
    "odd_topic",
  ];
  assert.deepEqual([...kinds].sort(), [...all].sort());
  const outcomes = new Set<FuzzOutcome>(messages.map((m) => m.expect));
  for (
    const o of [
      "valid",
      "bad_topic",
      "too_large",
      "bad_json",
      "not_object",
      "schema",
      "sensor_id_mismatch",
      "refused_by_broker",
      "outside_subscription",
    ] as const
  ) assert.ok(outcomes.has(o), o);
  const valid = messages.filter((m) => m.expect === "valid");
  assert.ok(valid.length > 3_500 && valid.length < 4_500, `${valid.length} valid`);
  assert.ok(new Set(valid.map((m) => m.sensorId)).size >= 45);
  assert.equal(messages.filter((m) => m.expect === "refused_by_broker").length, 20);
});

Deno.test("valid messages pass parseReading and invalid ones fail with the intended reason", () => {
  for (const [i, m] of messages.entries()) {
    if (m.expect === "refused_by_broker" || m.expect === "outside_subscription") continue;
    const r = parseReading(m.topic, m.payload, { sensorIdOf, receivedAt: 0 });
    const what = `#${i} ${m.kind} on ${JSON.stringify(m.topic)}`;
    if (m.expect === "valid") {
      assert.ok(r.ok, `${what}: ${r.ok ? "" : r.detail}`);
      assert.equal(r.sensorId, m.sensorId, what);
    } else {
      assert.equal(r.ok ? "valid" : r.reason, m.expect, what);
    }
  }
});

Deno.test("the broker sees what it must: oversized packets, topics outside the filter", () => {
  for (const m of messages) {
    const size = packetBytes(m.topic, m.payload);
    assert.equal(m.expect === "refused_by_broker", size > MAX_MQTT_PACKET_BYTES, m.kind);
    assert.equal(
      m.expect === "outside_subscription",
      !matchesFilter(m.topic, FUZZ_FILTER),
      m.topic,
    );
  }
  assert.equal(matchesFilter("sensors//data", FUZZ_FILTER), true);
  assert.equal(matchesFilter("sensors/V1/data/extra", FUZZ_FILTER), false);
});

Deno.test("every invalid client message gets the error code it was made for", () => {
  const garbage = invalidClientMessages(createRandom(SEED), 300);
  assert.deepEqual(new Set(garbage.map((g) => g.kind)).size, 3);
  for (const g of garbage) {
    const replies: string[] = [];
    const hub = { sendTo: (_id: string, text: string) => void replies.push(text) };
    const session = new ClientSession("c1", {
      hub: hub as unknown as Hub,
      metrics: new Metrics(),
      limits: { maxMessageBytes: 64 * 1024, maxErrors: 20, errorWindowMs: 10_000 },
      clock: { now: () => 0 },
      history: { request: () => ({ denied: [] }) },
      commands: { request: () => assert.fail("no valid command was sent") },
    }, {
      close: () => assert.fail("closed after one message"),
      refresh: () => assert.fail("no refresh was sent"),
      commandClaim: () => null,
    });
    session.onMessage(g.text);
    assert.equal(JSON.parse(replies[0]!).data.code, g.kind, g.text.slice(0, 60));
  }
});
