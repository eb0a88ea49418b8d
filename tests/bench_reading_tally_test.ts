/** The overload bench's tally of what clients received (`bench/reading_tally.ts`). */
import assert from "node:assert/strict";
import { binPercentile, Tally } from "../bench/reading_tally.ts";

const T0 = 1_000_000;

Deno.test("a client ended on the last values only when its last reading of each is final", async (t) => {
  const tally = new Tally(2, 2);
  tally.markReady(0);
  tally.markReady(1);
  await t.step("none before any final reading", () => {
    tally.record(0, 0, false, T0, T0 + 5);
    assert.deepEqual(tally.check(), { endedOnLast: 0, clients: 2, lastReachedAt: null });
  });
  await t.step("one client with both sensors final", () => {
    tally.record(0, 0, true, T0, T0 + 10);
    tally.record(0, 1, true, T0, T0 + 20);
    tally.record(1, 0, true, T0, T0 + 30);
    assert.deepEqual(tally.check(), { endedOnLast: 1, clients: 2, lastReachedAt: T0 + 20 });
  });
  await t.step("a stale reading after the final one undoes it", () => {
    tally.record(0, 1, false, T0, T0 + 40);
    assert.equal(tally.check().endedOnLast, 0);
  });
});

Deno.test("the summary counts per client, ages and per-sensor seconds of publishing", () => {
  const tally = new Tally(3, 2);
  tally.markReady(0);
  tally.markReady(1); // client 2 never connected: left out
  tally.start(T0, 2);
  for (const second of [0, 1]) {
    for (const sensor of [0, 1]) tally.record(0, sensor, false, T0, T0 + second * 1000 + 100);
  }
  tally.record(1, 0, false, T0 + 500, T0 + 700);
  tally.record(1, 0, false, T0, T0 + 2500); // after publishing: counted, not in a second
  const s = tally.summary();
  assert.equal(s.clients, 2);
  assert.equal(s.delivered, 6);
  assert.equal(s.deliveredDuringPublish, 5);
  assert.deepEqual(s.perClient, { min: 2, median: 4, max: 4 });
  assert.deepEqual(s.ageMs, { p50: 200, p99: 2500, max: 2500 }); // 100 100 200 1100 1100 2500
  assert.equal(s.worstSensorSecond, 0);
  assert.equal(s.emptySensorSeconds, 3); // client 1: sensor 0 second 1, sensor 1 both seconds
  assert.equal(s.clientsWithEmptySecond, 1);
  assert.equal(s.lowestSensorRate, 0);
});

Deno.test("binPercentile returns the bin holding the p-th share", () => {
  assert.equal(binPercentile([0, 2, 0, 1, 1], 0.5), 1);
  assert.equal(binPercentile([0, 2, 0, 1, 1], 0.99), 4);
  assert.equal(binPercentile([0, 0], 0.5), NaN);
});
