import assert from "node:assert/strict";
import { readingAt, type RingRange, SensorRing } from "../server/history_ring.ts";

const ALL: RingRange = { since: -Infinity, limit: Infinity, upTo: Infinity };

/** The `moisture` tags of the readings `range` selects, in visit order. */
function tags(ring: SensorRing, range: Partial<RingRange> = {}): number[] {
  const out: number[] = [];
  ring.select({ ...ALL, ...range }, (d, o) => out.push(readingAt(d, o).moisture));
  return out;
}

const reading = (at: number, n: number) => ({
  at,
  moisture: n,
  temperature: 20,
  humidity: 50,
  light: 1,
});

Deno.test("history ring", async (t) => {
  await t.step("numbers readings as stored and keeps them sorted by time", () => {
    const ring = new SensorRing({ max: 100, next: 7, evictedUpTo: -Infinity });
    assert.equal(ring.insert(reading(10, 0)), true);
    assert.equal(ring.insert(reading(30, 1)), true);
    assert.equal(ring.insert(reading(20, 2)), true); // late: number 9, placed between
    assert.deepEqual([ring.size, ring.next, ring.newest()], [3, 10, 30]);
    assert.deepEqual(tags(ring), [0, 2, 1]);
    assert.deepEqual(tags(ring, { upTo: 9 }), [0, 1]);
    assert.deepEqual(tags(ring, { since: 10, limit: 1 }), [1]);
    assert.deepEqual(readingAt(new Float64Array([1, 2, 3, 4, 5]), 0), {
      at: 1,
      moisture: 2,
      temperature: 3,
      humidity: 4,
      light: 5,
    });
  });

  await t.step("full at max, drops the oldest, or the reading itself if older", () => {
    const ring = new SensorRing({ max: 2, next: 0, evictedUpTo: -Infinity });
    for (const at of [10, 20, 30]) ring.insert(reading(at, at));
    assert.deepEqual([tags(ring), ring.evictedUpTo], [[20, 30], 10]);
    assert.equal(ring.insert(reading(15, 15)), false);
    assert.deepEqual([tags(ring), ring.evictedUpTo, ring.next], [[20, 30], 15, 3]);
    ring.ageOut(25);
    assert.deepEqual([tags(ring), ring.evictedUpTo], [[30], 20]);
  });

  await t.step(
    "bytes follow capacity, and the sequence slots only while a late reading is held",
    () => {
      const ring = new SensorRing({ max: 40, next: 0, evictedUpTo: -Infinity });
      assert.equal(ring.bytes, 16 * 40);
      for (let i = 0; i < 17; i++) ring.insert(reading(100 + i, i));
      assert.equal(ring.bytes, 32 * 40);
      ring.insert(reading(0, 99));
      assert.equal(ring.bytes, 32 * 48);
      ring.ageOut(Infinity);
      assert.deepEqual([ring.size, ring.bytes, ring.newest()], [0, 32 * 40, -Infinity]);
    },
  );
});
