/**
 * The abuse suite's fuzzed MQTT messages, from a seeded PRNG: the same seed always yields the
 * same messages, each labelled with what `serve` (or the broker in front of it) must do with it.
 * Pure: no I/O, no clock.
 * @module
 */
import type { InvalidReason } from "../server/reading.ts";
import { createRandom } from "../sim/random.ts";
import { oddTopic } from "./abuse_topics.ts";

export { FUZZ_FILTER, matchesFilter } from "./abuse_topics.ts";

/** How a message was made. */
export type FuzzKind =
  | "valid"
  | "random_json"
  | "deep_nesting"
  | "invalid_utf8"
  | "id_mismatch"
  | "too_large"
  | "oversize"
  | "odd_topic";

/**
 * What must become of a message: forwarded as a reading, dropped by serve for a reason, refused
 * by the broker (the publisher's connection is closed), or never delivered to serve because its
 * topic does not match the subscription.
 */
export type FuzzOutcome = "valid" | InvalidReason | "refused_by_broker" | "outside_subscription";

/** One message to publish. */
export interface FuzzMessage {
  kind: FuzzKind;
  topic: string;
  payload: Uint8Array;
  expect: FuzzOutcome;
  /** The sensor a valid reading arrives as. */
  sensorId?: string;
}

/** Options of {@link generateFuzz}. */
export interface FuzzOptions {
  /** Messages in all. Default 10,000. */
  count?: number;
  /** How many of them are over the broker's packet limit. Default 20. */
  oversized?: number;
  /** Size of each of those, bytes. Default 1 MiB. */
  oversizeBytes?: number;
  /** Distinct sensor ids of the readings. Default 50. */
  sensors?: number;
}

type Random = () => number;
const enc = new TextEncoder();
/** Share of each kind among the messages that are not oversized; sums to 1. */
const WEIGHTS: Array<[FuzzKind, number]> = [
  ["valid", 0.39],
  ["random_json", 0.28],
  ["deep_nesting", 0.05],
  ["invalid_utf8", 0.05],
  ["id_mismatch", 0.05],
  ["too_large", 0.02],
  ["odd_topic", 0.16],
];

/** The fuzzed messages for `seed`, in publishing order. */
export function generateFuzz(seed: number, options: FuzzOptions = {}): FuzzMessage[] {
  const random = createRandom(seed);
  const count = options.count ?? 10_000;
  const ids = fuzzSensorIds(options.sensors ?? 50);
  const oversized = new Set<number>();
  while (oversized.size < Math.min(count, options.oversized ?? 20)) {
    oversized.add(Math.floor(random() * count));
  }
  const out: FuzzMessage[] = [];
  for (let i = 0; i < count; i++) {
    const id = pick(random, ids);
    const kind = oversized.has(i) ? "oversize" : weighted(random);
    out.push(makeMessage(random, kind, id, ids, options.oversizeBytes ?? 1024 * 1024));
  }
  return out;
}

/** `n` valid sensor ids, including the shortest and the longest allowed. */
export function fuzzSensorIds(n: number): string[] {
  const ids = ["0", "x".repeat(64)];
  for (let i = 0; ids.length < n; i++) ids.push(i % 3 === 0 ? `fz_${i}` : `Fz-${i}`);
  return ids.slice(0, n);
}

function makeMessage(
  random: Random,
  kind: FuzzKind,
  id: string,
  ids: string[],
  oversizeBytes: number,
): FuzzMessage {
  const topic = `sensors/${id}/data`;
  switch (kind) {
    case "valid":
      return {
        kind,
        topic,
        payload: enc.encode(validReading(random, id)),
        expect: kind,
        sensorId: id,
      };
    case "random_json":
      return { kind, topic, ...randomJson(random) };
    case "deep_nesting": {
      const deep = deepNesting(random);
      return { kind, topic, ...deep, ...(deep.expect === "valid" ? { sensorId: id } : {}) };
    }
    case "invalid_utf8":
      return { kind, topic, payload: invalidUtf8(random), expect: "bad_json" };
    case "id_mismatch": {
      // Often the same id in another case: ids are case-sensitive.
      const other = random() < 0.3 ? id.toUpperCase() : pick(random, ids);
      const body = { ...values(random), sensor_id: other !== id ? other : id === "0" ? "1" : "0" };
      return {
        kind,
        topic,
        payload: enc.encode(JSON.stringify(body)),
        expect: "sensor_id_mismatch",
      };
    }
    case "too_large":
      return { kind, topic, payload: sized(random, 16 * 1024 + 1, 60_000), expect: "too_large" };
    case "oversize":
      return {
        kind,
        topic,
        payload: sized(random, oversizeBytes, oversizeBytes),
        expect: "refused_by_broker",
      };
    case "odd_topic":
      return {
        kind,
        ...oddTopic(random, id),
        payload: enc.encode(JSON.stringify(values(random))),
      };
  }
}

function weighted(random: Random): FuzzKind {
  let x = random();
  for (const [kind, weight] of WEIGHTS) if ((x -= weight) < 0) return kind;
  return "valid";
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

const between = (random: Random, min: number, max: number) => min + (max - min) * random();
const round = (v: number, digits: number) => Number(v.toFixed(digits));

function values(random: Random): Record<string, number> {
  return {
    moisture: round(between(random, 0, 100), 1),
    temperature: round(between(random, -50, 100), 2),
    humidity: round(between(random, 0, 100), 1),
    light: Math.round(between(random, 0, 120_000)),
  };
}

/** Values just or far outside each field's range (light has no upper bound). */
const OUT_OF_RANGE: Record<string, number[]> = {
  moisture: [100.0001, -0.5, 1e308, -1e308, 101],
  temperature: [-50.01, 100.5, 1e308, -1e308],
  humidity: [100.0001, -0.5, 1e308, -1e308],
  light: [-1, -1e308, -Number.MIN_VALUE],
};

/** A valid reading's JSON text, with the edge cases the protocol allows. */
function validReading(random: Random, id: string): string {
  const v: Record<string, unknown> = values(random);
  const edge = random();
  if (edge < 0.05) Object.assign(v, { moisture: 0, temperature: -50, humidity: 0, light: 0 });
  else if (edge < 0.1) Object.assign(v, { moisture: 100, temperature: 100, humidity: 100 });
  else if (edge < 0.13) v.light = 1e308; // light has no upper bound
  if (random() < 0.3) v.sensor_id = id;
  const ts = random();
  if (ts < 0.4) {
    v.timestamp = new Date(Date.UTC(2025, 0, 1) + Math.floor(random() * 3e10)).toISOString();
  } else if (ts < 0.5) {
    v.timestamp = pick(random, ["yesterday", "2025-02-30T10:00:00Z", 1733495400, null, {}]);
  }
  if (random() < 0.1) v.firmware = { version: "1.2.3", tags: ["a", "b"], extra: [null, true] };
  const text = JSON.stringify(v);
  // A __proto__ key is just data to JSON.parse and must neither break nor pollute anything.
  return random() < 0.03 ? `{"__proto__":{"moisture":-1},${text.slice(1)}` : text;
}

/** JSON (or almost JSON) that serve must refuse: wrong types, missing fields, not objects. */
function randomJson(random: Random): { payload: Uint8Array; expect: InvalidReason } {
  const v: Record<string, unknown> = values(random);
  const field = pick(random, ["moisture", "temperature", "humidity", "light"]);
  const text = (value: string, expect: InvalidReason) => ({ payload: enc.encode(value), expect });
  switch (Math.floor(random() * 8)) {
    case 0:
      v[field] = pick(random, ["45", true, null, [], {}, "NaN", ""]);
      return text(JSON.stringify(v), "schema");
    case 1:
      delete v[field];
      return text(JSON.stringify(v), "schema");
    case 2:
      v[field] = pick(random, OUT_OF_RANGE[field]!);
      return text(JSON.stringify(v), "schema");
    case 3: // Infinity is not JSON, but 1e999 parses to it.
      return text(JSON.stringify(v).replace(/"light":[^,}]+/, `"light":1e999`), "schema");
    case 4:
      v.sensor_id = pick(random, [5, "bad id", "", "x".repeat(65), ["V1"]]);
      return text(JSON.stringify(v), "schema");
    case 5:
      return text(
        pick(random, ['"a string"', "42", "[1,2,3]", "null", "true", `[${JSON.stringify(v)}]`]),
        "not_object",
      );
    case 6:
      return text(
        pick(random, ["", "{", "{moisture: 1}", "{'a': 1}", '{"a":1,}', "NaN", "undefined"]),
        "bad_json",
      );
    default:
      return text(JSON.stringify(v).slice(0, Math.floor(random() * 40) + 1), "bad_json");
  }
}

/** Deeply nested arrays and objects, all within the bridge's 16 KiB limit. */
function deepNesting(random: Random): { payload: Uint8Array; expect: FuzzOutcome } {
  const depth = 1000 + Math.floor(random() * 7000);
  const text = (value: string, expect: FuzzOutcome) => ({ payload: enc.encode(value), expect });
  switch (Math.floor(random() * 4)) {
    case 0:
      return text("[".repeat(depth), "bad_json");
    case 1:
      return text("[".repeat(depth) + "]".repeat(depth), "not_object");
    case 2: {
      const d = Math.floor(depth / 3);
      return text('{"a":'.repeat(d) + "1" + "}".repeat(d), "schema");
    }
    default: {
      const extra = "[".repeat(depth) + "]".repeat(depth);
      return text(JSON.stringify(values(random)).replace(/}$/, `,"extra":${extra}}`), "valid");
    }
  }
}

/** Malformed UTF-8 sequences: stray continuation, overlong, surrogate, truncated, > U+10FFFF. */
const BAD_UTF8 = [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [
  0xf5,
  0x80,
  0x80,
  0x80,
]];

function invalidUtf8(random: Random): Uint8Array {
  if (random() < 0.3) {
    const bytes = Array.from(
      { length: 1 + Math.floor(random() * 200) },
      () => Math.floor(random() * 256),
    );
    return Uint8Array.from([...bytes, 0xff]);
  }
  const text = JSON.stringify({ ...values(random), note: "@" });
  const at = text.indexOf("@");
  const head = enc.encode(text.slice(0, at));
  return Uint8Array.from([...head, ...pick(random, BAD_UTF8), ...enc.encode(text.slice(at + 1))]);
}

/** A payload of `min`..`max` bytes: nesting, a long string field, or padding. */
function sized(random: Random, min: number, max: number): Uint8Array {
  const n = min + Math.floor(random() * (max - min + 1));
  const style = random();
  if (style < 0.3) return enc.encode("[".repeat(n));
  if (style < 0.6) {
    const head = JSON.stringify(values(random)).slice(0, -1) + ',"pad":"';
    return enc.encode(head + "p".repeat(Math.max(0, n - head.length - 2)) + '"}');
  }
  return enc.encode(" ".repeat(n - 2) + "{}");
}
