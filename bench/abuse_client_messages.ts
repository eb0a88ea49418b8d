/**
 * Invalid WebSocket client messages for the abuse suite, from a seeded PRNG: bad JSON, unknown
 * types and invalid subscribe/unsubscribe bodies. Each one earns the sender an `error` reply
 * (and, past the limit, a 1008 close). Pure: no I/O.
 * @module
 */

/** Which error the server answers a message with. */
export type GarbageKind = "bad_json" | "unknown_type" | "invalid_message";

/** One invalid client message. */
export interface GarbageMessage {
  kind: GarbageKind;
  text: string;
}

const KINDS: readonly GarbageKind[] = ["bad_json", "unknown_type", "invalid_message"];

const BAD_JSON = ["{", "not json", '{"type":', "{'type':'ping'}", '{"type":"ping",}', "\u0000", ""];
const UNKNOWN_TYPE = [
  '{"type":"hack"}',
  '{"type":42}',
  "{}",
  "[]",
  "null",
  '"ping"',
  "1e999",
  '{"type":"PING"}',
  '{"type":"__proto__"}',
  '{"kind":"subscribe","sensors":["V1"]}',
];
const INVALID_BODY = [
  '{"type":"subscribe","sensors":[]}',
  '{"type":"subscribe","sensors":"V1"}',
  '{"type":"subscribe","sensors":["bad id!"]}',
  '{"type":"subscribe"}',
  '{"type":"unsubscribe","sensors":[1]}',
  '{"type":"subscribe","sensors":[null]}',
  `{"type":"subscribe","sensors":["${"x".repeat(65)}"]}`,
  `{"type":"subscribe","sensors":${
    JSON.stringify(Array.from({ length: 1001 }, (_, i) => `s${i}`))
  }}`,
];

/** `count` invalid messages drawn with `random` (a seeded PRNG such as `createRandom`). */
export function invalidClientMessages(random: () => number, count: number): GarbageMessage[] {
  return Array.from({ length: count }, () => {
    const kind = KINDS[Math.floor(random() * KINDS.length)]!;
    const pool = kind === "bad_json"
      ? BAD_JSON
      : kind === "unknown_type"
      ? UNKNOWN_TYPE
      : INVALID_BODY;
    return { kind, text: pool[Math.floor(random() * pool.length)]! };
  });
}
