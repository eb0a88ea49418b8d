/** The overload bench's byte-level frame and reading scanner (`bench/ws_frames.ts`). */
import assert from "node:assert/strict";
import {
  FINAL_MOISTURE,
  type FrameSink,
  headEnd,
  indexOfBytes,
  isoMs,
  newFacts,
  OP_PING,
  OP_TEXT,
  pongFrame,
  readingAt,
  scanFrames,
  scanReading,
} from "../bench/ws_frames.ts";

const encode = (s: string) => new TextEncoder().encode(s);

/** A server frame (unmasked) with `payload`. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? [0x80 | opcode, len] : [0x80 | opcode, 126, len >> 8, len & 0xff];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

function collect(): FrameSink & { seen: [number, string][] } {
  const seen: [number, string][] = [];
  return {
    seen,
    frame(op, data, start, end) {
      seen.push([op, new TextDecoder().decode(data.subarray(start, end))]);
    },
  };
}

/** The server's serialization of a reading (envelope order as `server/reading.ts` builds it). */
function serverText(sensor: string, moisture: number, timestamp: string): string {
  return JSON.stringify({
    type: "sensor_reading",
    data: { sensor_id: sensor, moisture, temperature: 21.5, humidity: 60, light: 750 },
    timestamp,
  });
}

Deno.test("scanFrames hands over complete frames and stops at a partial one", async (t) => {
  const long = "x".repeat(300);
  const bytes = new Uint8Array([
    ...frame(OP_TEXT, encode("hi")),
    ...frame(OP_TEXT, encode(long)),
    ...frame(OP_PING, encode("p")),
  ]);
  await t.step("all of them when the buffer ends on a frame boundary", () => {
    const sink = collect();
    assert.equal(scanFrames(bytes, 0, sink), bytes.length);
    assert.deepEqual(sink.seen, [[OP_TEXT, "hi"], [OP_TEXT, long], [OP_PING, "p"]]);
  });
  await t.step("up to the incomplete frame, whose start it returns", () => {
    for (const cut of [5, 6, 300]) {
      const sink = collect();
      const used = scanFrames(bytes.subarray(0, cut), 0, sink);
      assert.equal(used, 4);
      assert.deepEqual(sink.seen, [[OP_TEXT, "hi"]]);
    }
  });
  await t.step("rejects a masked frame", () => {
    assert.throws(() => scanFrames(new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 1, 2]), 0, collect()));
  });
});

Deno.test("scanReading reads sensor, final mark and timestamp from the server's text", () => {
  const facts = newFacts();
  const ts = "2026-03-01T12:34:56.789Z";
  const plain = encode(serverText("S3", 41, ts));
  assert.equal(scanReading(plain, 0, plain.length, facts), true);
  assert.deepEqual(facts, { sensor: 3, final: false, sentAt: Date.parse(ts) });
  const last = encode(serverText("S12", FINAL_MOISTURE, ts));
  assert.equal(scanReading(last, 0, last.length, facts), true);
  assert.deepEqual(facts, { sensor: 12, final: true, sentAt: Date.parse(ts) });
  const status = encode('{"type":"connection_status","data":{},"timestamp":"' + ts + '"}');
  assert.equal(scanReading(status, 0, status.length, facts), false);
});

Deno.test("scanReading still finds the fields when the server orders them differently", () => {
  const ts = "2026-12-31T23:59:59.999Z";
  const text = JSON.stringify({
    timestamp: ts,
    type: "sensor_reading",
    data: { light: 1, moisture: FINAL_MOISTURE, sensor_id: "S0" },
  });
  const bytes = encode(`..${text}..`);
  const facts = newFacts();
  assert.equal(scanReading(bytes, 2, bytes.length - 2, facts), true);
  assert.deepEqual(facts, { sensor: 0, final: true, sentAt: Date.parse(ts) });
});

Deno.test("isoMs agrees with Date.parse across minutes, days and years", () => {
  for (
    const ts of ["2026-01-01T00:00:00.000Z", "2025-12-31T23:59:59.999Z", "2028-02-29T08:07:06.005Z"]
  ) {
    assert.equal(isoMs(encode(`"${ts}"`), 1), Date.parse(ts));
  }
});

Deno.test("the publisher's last reading per sensor carries the final mark, no other does", () => {
  const sensors = 5;
  const total = 23;
  const marked = Array.from({ length: total }, (_, k) => {
    const { payload } = readingAt(k, { total, sensors, at: new Date(0) });
    return JSON.parse(payload).moisture === FINAL_MOISTURE;
  });
  assert.deepEqual(marked.flatMap((m, k) => m ? [k] : []), [18, 19, 20, 21, 22]);
});

Deno.test("helpers: indexOfBytes, headEnd and pongFrame", () => {
  const data = encode("abcabc");
  assert.equal(indexOfBytes(data, encode("ca"), 0, 6), 2);
  assert.equal(indexOfBytes(data, encode("abc"), 0, 6, 3), 3);
  assert.equal(indexOfBytes(data, encode("abd"), 0, 6), -1);
  assert.equal(headEnd(encode("HTTP/1.1 101 OK\r\nA: b\r\n\r\nrest")), 25);
  assert.equal(headEnd(encode("HTTP/1.1 101 OK\r\n")), -1);
  assert.deepEqual([...pongFrame(encode("z"))], [0x8a, 0x81, 0, 0, 0, 0, 0x7a]);
});
