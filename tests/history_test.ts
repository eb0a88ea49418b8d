import assert from "node:assert/strict";
import { HistoryStore } from "../server/history.ts";
import { HOUR, reading, setup, T0, tags } from "./_history.ts";

Deno.test("history", async (t) => {
  await t.step("returns readings strictly after since, oldest first", () => {
    const { store } = setup();
    for (let i = 0; i < 5; i++) store.add("V1", reading(T0 - 5_000 + i * 1_000, i));
    assert.deepEqual(tags(store, "V1", { since: T0 - 3_000 }), [3, 4]);
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [0, 1, 2, 3, 4]);
    assert.deepEqual(tags(store, "V1", { since: T0 }), []);
    assert.deepEqual(store.query("V1", { since: T0 - 1_000 }).readings, []);
    assert.deepEqual(tags(store, "other", { since: -Infinity }), []);
  });

  await t.step("limit keeps the most recent readings", () => {
    const { store } = setup();
    for (let i = 0; i < 10; i++) store.add("V1", reading(T0 - 10_000 + i * 1_000, i));
    assert.deepEqual(tags(store, "V1", { since: -Infinity, limit: 3 }), [7, 8, 9]);
    assert.deepEqual(tags(store, "V1", { since: T0 - 3_000, limit: 5 }), [8, 9]);
    assert.deepEqual(tags(store, "V1", { since: -Infinity, limit: 0 }), []);
    assert.throws(() => store.query("V1", { since: 0, limit: -1 }), RangeError);
  });

  await t.step("stores a late reading in timestamp order; equal times keep arrival order", () => {
    const { store } = setup();
    store.add("V1", reading(T0 - 5_000, 0));
    store.add("V1", reading(T0 - 3_000, 1));
    store.add("V1", reading(T0 - 1_000, 2));
    store.add("V1", reading(T0 - 4_000, 3)); // late
    store.add("V1", reading(T0 - 3_000, 4)); // late, ties with 1: after it
    store.add("V1", reading(T0 - 1_000, 5)); // ties with the newest: after it
    store.add("V1", reading(T0 - 9_000, 6)); // older than all
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [6, 0, 3, 1, 4, 2, 5]);
    assert.deepEqual(store.query("V1", { since: -Infinity }).readings.map((r) => r.at), [
      T0 - 9_000,
      T0 - 5_000,
      T0 - 4_000,
      T0 - 3_000,
      T0 - 3_000,
      T0 - 1_000,
      T0 - 1_000,
    ]);
  });

  await t.step("ages readings out by the window on the clock", () => {
    const { clock, store } = setup({ windowMs: 10_000 });
    for (let i = 0; i < 10; i++) store.add("V1", reading(T0 - 9_000 + i * 1_000, i));
    assert.equal(store.query("V1", { since: T0 - 10_000 }).complete, true);
    assert.equal(tags(store, "V1", { since: -Infinity }).length, 10);
    clock.advance(3_000); // cutoff T0 - 7_000: the reading exactly at it stays
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(store.query("V1", { since: T0 - 8_001 }).complete, false);
    assert.equal(store.query("V1", { since: T0 - 8_000 }).complete, true);
    clock.advance(500);
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [3, 4, 5, 6, 7, 8, 9]);
    assert.equal(store.query("V1", { since: T0 - 7_001 }).complete, false);
    assert.equal(store.query("V1", { since: T0 - 7_000 }).complete, true);
    assert.equal(store.stats().readings, 7);
    store.add("V1", reading(T0 - 8_000, 10)); // too old on arrival: dropped, counted as lost
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [3, 4, 5, 6, 7, 8, 9]);
    clock.advance(20_000);
    assert.deepEqual(store.query("V1", { since: -Infinity }).readings, []);
    assert.equal(store.query("V1", { since: T0 }).complete, true);
    assert.equal(store.query("V1", { since: T0 - 1 }).complete, false);
    assert.equal(store.stats().readings, 0);
  });

  await t.step("the cap drops the oldest: older windows incomplete, newer complete", () => {
    const { store } = setup({ maxPerSensor: 4 });
    for (let i = 0; i < 6; i++) store.add("V1", reading(T0 - 6_000 + i * 1_000, i));
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [2, 3, 4, 5]);
    // Dropped: T0-6s and T0-5s; the window after T0-5s lost nothing.
    assert.equal(store.query("V1", { since: T0 - 5_001 }).complete, false);
    assert.equal(store.query("V1", { since: T0 - 5_000 }).complete, true);
    assert.equal(store.query("V1", { since: T0 - 2_000 }).complete, true);
    // A late reading older than all kept is itself the one dropped.
    store.add("V1", reading(T0 - 4_500, 6));
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [2, 3, 4, 5]);
    assert.equal(store.query("V1", { since: T0 - 4_500 }).complete, true);
    assert.equal(store.query("V1", { since: T0 - 4_501 }).complete, false);
    // Another sensor is not affected.
    store.add("V2", reading(T0 - 6_000, 0));
    assert.equal(store.query("V2", { since: T0 - 10_000 }).complete, true);
  });

  await t.step("nothing is complete before linkUp, while down, or before the last linkUp", () => {
    const store = new HistoryStore({ windowMs: HOUR, maxPerSensor: 10, now: () => T0 });
    store.add("V1", reading(T0 - 1_000));
    assert.equal(store.query("V1", { since: T0 - 5_000 }).complete, false);
    assert.equal(store.query("V9", { since: T0 - 5_000 }).complete, false);
    store.linkUp(T0 - 10_000);
    assert.equal(store.query("V1", { since: T0 - 10_000 }).complete, true);
    assert.equal(store.query("V1", { since: T0 - 10_001 }).complete, false);
    assert.equal(store.query("V9", { since: T0 - 5_000 }).complete, true);
    store.linkDown(T0 - 2_000);
    assert.equal(store.query("V1", { since: T0 - 5_000 }).complete, false);
    assert.equal(store.query("V1", { since: T0 }).complete, false);
    assert.equal(store.query("V9", { since: T0 }).complete, false);
    store.linkUp(T0 - 500);
    assert.equal(store.query("V1", { since: T0 - 5_000 }).complete, false);
    assert.equal(store.query("V1", { since: T0 - 500 }).complete, true);
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [0]); // readings stay
  });

  await t.step("a refused reading makes unknown sensors incomplete for windows covering it", () => {
    const { store } = setup();
    store.add("V1", reading(T0 - 9_000));
    store.refused(T0 - 3_000);
    assert.equal(store.query("V9", { since: T0 - 3_001 }).complete, false);
    assert.equal(store.query("V9", { since: T0 - 3_000 }).complete, true);
    assert.equal(store.query("V1", { since: T0 - 10_000 }).complete, true); // known: not it
    // The refused sensor may be admitted later: it still lacks what was refused.
    store.add("V9", reading(T0 - 100));
    assert.equal(store.query("V9", { since: T0 - 3_001 }).complete, false);
    assert.equal(store.query("V9", { since: T0 - 3_000 }).complete, true);
  });

  await t.step("a forgotten sensor is unknown: no readings, cursor keeps rising", () => {
    const { clock, store } = setup();
    store.add("V1", reading(T0 - 2_000, 1));
    store.add("V2", reading(T0 - 2_000, 1));
    const before = store.cursor("V1");
    clock.advance(10_000);
    store.forget("V1");
    assert.deepEqual([...store.sensors()], ["V2"]);
    assert.deepEqual(store.query("V1", { since: -Infinity }).readings, []);
    // Its reading at T0-2s is gone: windows covering it are incomplete, later ones complete.
    assert.equal(store.query("V1", { since: T0 - 2_001 }).complete, false);
    assert.equal(store.query("V1", { since: T0 - 2_000 }).complete, true);
    store.add("V1", reading(T0 + 5_000, 2));
    assert.ok(store.cursor("V1") > before);
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: before }), []);
    assert.deepEqual(store.stats(), { readings: 2, bytes: 2 * 16 * 40, sensors: 2 });
  });

  await t.step("a cursor excludes readings stored after it, late ones too", () => {
    const { store } = setup();
    assert.equal(store.cursor("V1"), 0);
    store.add("V1", reading(T0 - 5_000, 0));
    store.add("V1", reading(T0 - 3_000, 1));
    const cursor = store.cursor("V1");
    store.add("V1", reading(T0 - 2_000, 2));
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: cursor }), [0, 1]);
    store.add("V1", reading(T0 - 4_000, 3)); // late, after the cursor: goes live, not here
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: cursor }), [0, 1]);
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: cursor, limit: 1 }), [1]);
    assert.deepEqual(tags(store, "V1", { since: -Infinity }), [0, 3, 1, 2]);
    const later = store.cursor("V1");
    store.add("V1", reading(T0 - 1_000, 4));
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: later }), [0, 3, 1, 2]);
    assert.deepEqual(tags(store, "V1", { since: -Infinity, upTo: later, limit: 2 }), [1, 2]);
    assert.equal(store.cursor("unknown"), store.stats().readings);
  });

  await t.step("a cursor taken before a sensor is known excludes all its readings", () => {
    const { store } = setup();
    store.add("V1", reading(T0 - 5_000, 0));
    const cursor = store.cursor("V2");
    store.add("V2", reading(T0 - 4_000, 1));
    assert.deepEqual(tags(store, "V2", { since: -Infinity, upTo: cursor }), []);
    assert.deepEqual(tags(store, "V2", { since: -Infinity }), [1]);
  });

  await t.step("an eviction between request and reply makes the reply incomplete", () => {
    const { store } = setup({ maxPerSensor: 3 });
    for (let i = 0; i < 3; i++) store.add("V1", reading(T0 - 5_000 + i * 1_000, i));
    const cursor = store.cursor("V1");
    store.add("V1", reading(T0 - 1_000, 3)); // drops T0-5s, which the request covered
    const reply = store.query("V1", { since: T0 - 6_000, upTo: cursor });
    assert.deepEqual(reply.readings.map((r) => r.moisture), [1, 2]);
    assert.equal(reply.complete, false);
  });

  await t.step("grows from a small capacity and keeps order across wraparound", () => {
    const { store } = setup({ maxPerSensor: 37 });
    for (let i = 0; i < 1_000; i++) {
      store.add("V1", reading(T0 - 1_000_000 + i * 1_000, i));
      // Late, and aged out of the cap before the end (the newest 37 are 963..999).
      if (i % 97 === 0 && i < 900) store.add("V1", reading(T0 - 1_000_000 + i * 1_000 - 1_500, -1));
    }
    const got = store.query("V1", { since: -Infinity }).readings;
    assert.equal(got.length, 37);
    assert.deepEqual(got.map((r) => r.moisture), Array.from({ length: 37 }, (_, k) => 963 + k));
    assert.deepEqual(store.stats(), { readings: 37, bytes: 37 * 48, sensors: 1 });
  });

  await t.step("stats count readings and typed-array bytes as they change", () => {
    const { clock, store } = setup({ windowMs: 100_000, maxPerSensor: 40 });
    assert.deepEqual(store.stats(), { readings: 0, bytes: 0, sensors: 0 });
    for (let i = 0; i < 17; i++) store.add("V1", reading(T0 + i, i));
    assert.deepEqual(store.stats(), { readings: 17, bytes: 32 * 40, sensors: 1 });
    for (let i = 0; i < 50; i++) store.add("V2", reading(T0 + i, i));
    assert.deepEqual(store.stats(), { readings: 57, bytes: 72 * 40, sensors: 2 });
    store.add("V1", reading(T0 - 1, 99)); // late: V1 now numbers its slots, 8 bytes each
    assert.deepEqual(store.stats(), { readings: 58, bytes: 72 * 40 + 32 * 8, sensors: 2 });
    clock.advance(200_000);
    store.query("V1", { since: 0 }); // ages V1 out; empty, it drops the numbers
    assert.deepEqual(store.stats(), { readings: 40, bytes: 72 * 40, sensors: 2 });
    store.forget("V2");
    assert.deepEqual(store.stats(), { readings: 0, bytes: 32 * 40, sensors: 1 });
  });

  await t.step("json parses to exactly what query returns", () => {
    const { store } = setup();
    const odd = [0.1 + 0.2, 1e21, -3.5, 5e-324, 123456789.12345679, 1 / 3, 42.5];
    odd.forEach((v, i) =>
      store.add("V1", {
        at: T0 - 9_000 + i * 7,
        moisture: v,
        temperature: -v,
        humidity: i,
        light: v * 1e6,
      })
    );
    store.add("V1", reading(T0 - 9_500, 42)); // late
    for (const options of [{ since: -Infinity }, { since: T0 - 9_000, limit: 3 }, { since: T0 }]) {
      const { readings, complete } = store.json("V1", options);
      const expected = store.query("V1", options);
      assert.equal(complete, expected.complete);
      assert.deepEqual(
        JSON.parse(readings),
        expected.readings.map(({ at, ...values }) => ({
          ...values,
          timestamp: new Date(at).toISOString(),
        })),
      );
    }
    assert.equal(
      store.json("V1", { since: T0 - 9_000 + 5 * 7 }).readings,
      `[{"moisture":42.5,"temperature":-42.5,"humidity":6,"light":42500000,` +
        `"timestamp":"2024-12-31T23:59:51.042Z"}]`,
    );
    assert.deepEqual(store.json("nobody", { since: 0 }), { readings: "[]", complete: false });
    // Times far from now format as Date does: before 1970, fractional ms, six-digit years.
    const forever = new HistoryStore({ windowMs: Infinity, maxPerSensor: 100, now: () => T0 });
    const times = [-8.64e15, -86_400_001, -60_000, -1.5, -1, 0, 1.5, 59_999, 2.6e14, 8.64e15];
    for (const at of times) forever.add("V1", reading(at));
    assert.deepEqual(
      JSON.parse(forever.json("V1", { since: -Infinity }).readings).map(
        (r: { timestamp: string }) => r.timestamp,
      ),
      times.map((at) => new Date(at).toISOString()),
    );
  });

  await t.step("refuses bad options and readings with RangeError", () => {
    const now = () => T0;
    assert.throws(() => new HistoryStore({ windowMs: -1, maxPerSensor: 1, now }), RangeError);
    assert.throws(() => new HistoryStore({ windowMs: NaN, maxPerSensor: 1, now }), RangeError);
    // windowMs 0 is the server's "no history": nothing older than now stays.
    const none = new HistoryStore({ windowMs: 0, maxPerSensor: 1, now });
    none.add("V1", reading(T0 - 1));
    assert.deepEqual(none.query("V1", { since: -Infinity }).readings, []);
    assert.throws(() => new HistoryStore({ windowMs: 1, maxPerSensor: 0.5, now }), RangeError);
    const store = new HistoryStore({ windowMs: 1, maxPerSensor: 1, now });
    assert.throws(() => store.add("V1", { ...reading(T0), light: NaN }), RangeError);
    assert.throws(() => store.add("V1", reading(Infinity)), RangeError);
    assert.throws(() => store.query("V1", { since: NaN }), RangeError);
    assert.deepEqual(store.stats(), { readings: 0, bytes: 0, sensors: 0 });
  });
});
