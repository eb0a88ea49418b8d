/** Live/stale status per sensor from its learned interval: pure logic on the fake clock. */
import assert from "node:assert/strict";
import { type SensorStatus, Staleness } from "../server/staleness.ts";
import { FakeClock } from "./_fake_clock.ts";

const S = 1_000;
const MIN = 60 * S;

interface Change {
  id: string;
  status: SensorStatus;
  lastSeen: number;
}

/** A Staleness on a fake clock with the default --stale-after (10 s), recording every change. */
function setup(staleAfterMs = 10 * S) {
  const clock = new FakeClock(1_700_000_000_000);
  const changes: Change[] = [];
  const staleness: Staleness = new Staleness({
    staleAfterMs,
    clock,
    onChange(id, status, lastSeen) {
      assert.equal(staleness.status(id), status, "onChange comes after the state changed");
      changes.push({ id, status, lastSeen });
    },
  });
  /** `count` readings of `id`, `everyMs` apart, the first now; ends at the last one. */
  const publish = (id: string, everyMs: number, count: number) => {
    for (let i = 0; i < count; i++) {
      if (i > 0) clock.advance(everyMs);
      staleness.seen(id);
    }
  };
  return { clock, changes, staleness, publish };
}

Deno.test("staleness", async (t) => {
  await t.step("a sensor at 1/s goes stale after 10 s of silence (the floor), not before", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("a", S, 20);
    const last = clock.now();
    assert.equal(staleness.threshold("a"), 10 * S);
    clock.advance(10 * S - 1);
    assert.equal(staleness.status("a"), "live");
    assert.deepEqual(changes, []);
    clock.advance(1);
    assert.equal(staleness.status("a"), "stale");
    assert.deepEqual(changes, [{ id: "a", status: "stale", lastSeen: last }]);
    staleness.close();
  });

  await t.step("a sensor at 1 per 20 s goes stale after 60 s of silence, not before", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("slow", 20 * S, 10);
    const last = clock.now();
    assert.equal(staleness.threshold("slow"), 60 * S);
    clock.advance(60 * S - 1);
    assert.equal(staleness.status("slow"), "live");
    clock.advance(1);
    assert.deepEqual(changes, [{ id: "slow", status: "stale", lastSeen: last }]);
    staleness.close();
  });

  await t.step("merged close readings leave a fast sensor's threshold exact", () => {
    const { staleness, publish } = setup();
    // 3 × 4 s is over the 10 s floor, so every one of its intervals must count as it is.
    publish("4s", 4 * S, 20);
    assert.equal(staleness.threshold("4s"), 12 * S);
    // Intervals under 10/6 s are merged, but 3 × anything that short is under the floor anyway.
    publish("1.5s", 1_500, 20);
    publish("200ms", 200, 100);
    assert.equal(staleness.threshold("1.5s"), 10 * S);
    assert.equal(staleness.threshold("200ms"), 10 * S);
    staleness.close();
  });

  await t.step("a stale sensor's next reading makes it live, announced before seen returns", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("a", S, 20);
    const last = clock.now();
    clock.advance(5 * MIN);
    staleness.seen("a");
    assert.deepEqual(changes, [
      { id: "a", status: "stale", lastSeen: last },
      { id: "a", status: "live", lastSeen: clock.now() },
    ]);
    assert.equal(staleness.lastSeen("a"), clock.now());
    staleness.seen("a");
    assert.equal(changes.length, 2, "a live sensor's reading changes nothing");
    staleness.close();
  });

  await t.step("an outage does not inflate the threshold afterwards", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("slow", 20 * S, 5);
    // Nine outages with one ordinary interval between each: had their gaps been counted, they
    // would be 8 of the last 15 intervals, and the median one of them.
    for (let i = 0; i < 9; i++) {
      clock.advance(10 * MIN);
      staleness.seen("slow");
      assert.equal(staleness.threshold("slow"), 60 * S, `after outage ${i + 1}`);
      clock.advance(20 * S);
      staleness.seen("slow");
    }
    assert.equal(changes.length, 18, "stale and live again, once per outage");
    const last = clock.now();
    clock.advance(60 * S - 1);
    assert.equal(staleness.status("slow"), "live");
    clock.advance(1);
    assert.deepEqual(changes.at(-1), { id: "slow", status: "stale", lastSeen: last });
    staleness.close();
  });

  await t.step("the median resists a long interval, a burst and a flushed backlog", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("slow", 20 * S, 10);
    clock.advance(50 * S); // long, but not stale: it counts
    staleness.seen("slow");
    assert.equal(staleness.threshold("slow"), 60 * S);
    clock.advance(20 * S);
    publish("slow", 5, 3); // a burst
    assert.equal(staleness.threshold("slow"), 60 * S);
    clock.advance(20 * S);
    publish("slow", 5, 40); // a backlog flushed on reconnect: more readings than the ring holds
    assert.equal(staleness.threshold("slow"), 60 * S);
    clock.advance(60 * S - 1);
    assert.deepEqual(changes, []);
    staleness.close();
  });

  await t.step("a sensor that always sends bursts learns the time between them", () => {
    const { clock, changes, staleness, publish } = setup();
    for (let i = 0; i < 20; i++) {
      if (i > 0) clock.advance(20 * S - 6); // bursts start 20 s apart
      publish("bursty", 3, 3);
    }
    assert.equal(staleness.threshold("bursty"), 60 * S);
    assert.deepEqual(changes, [], "never stale between its bursts");
    staleness.close();
  });

  await t.step("a sensor that published once is stale after 3 × --stale-after", () => {
    const { clock, changes, staleness } = setup();
    staleness.seen("once");
    assert.equal(staleness.threshold("once"), 30 * S);
    clock.advance(30 * S - 1);
    assert.equal(staleness.status("once"), "live");
    clock.advance(1);
    assert.deepEqual(changes, [{ id: "once", status: "stale", lastSeen: clock.now() - 30 * S }]);
    staleness.close();
  });

  await t.step("a slower one is stale once after its first reading, then learns", () => {
    const { clock, changes, staleness, publish } = setup();
    const first = clock.now();
    publish("minutely", MIN, 12);
    assert.deepEqual(changes, [
      { id: "minutely", status: "stale", lastSeen: first },
      { id: "minutely", status: "live", lastSeen: first + MIN },
    ]);
    assert.equal(staleness.threshold("minutely"), 3 * MIN);
    staleness.close();
  });

  await t.step("after a long first silence, the next interval sets the threshold", () => {
    const { clock, staleness } = setup();
    staleness.seen("late");
    clock.advance(10 * MIN); // stale; with no interval known, this gap is counted
    staleness.seen("late");
    assert.equal(staleness.threshold("late"), 30 * MIN);
    clock.advance(20 * S);
    staleness.seen("late");
    // The lower of the two middle values, not their mean (which would make it 15.5 min).
    assert.equal(staleness.threshold("late"), 60 * S);
    staleness.close();
  });

  await t.step("a sensor that slows down learns its new rhythm", () => {
    const { clock, changes, staleness, publish } = setup();
    publish("a", S, 40);
    publish("a", MIN, 21);
    // The first slow gap is taken for an outage; each after it counts, and once 8 of the last
    // 15 intervals are a minute, so is the median.
    assert.equal(changes.length, 2 * 9);
    assert.equal(staleness.threshold("a"), 3 * MIN);
    clock.advance(3 * MIN - 1);
    assert.equal(changes.length, 2 * 9);
    staleness.close();
  });

  await t.step("counts, stale() and forget", () => {
    const { clock, changes, staleness, publish } = setup();
    assert.deepEqual(staleness.counts(), { live: 0, stale: 0 });
    publish("a", S, 5);
    publish("b", S, 5);
    publish("c", S, 5);
    assert.deepEqual(staleness.counts(), { live: 3, stale: 0 });
    assert.deepEqual([...staleness.stale()], []);
    clock.advance(5 * S);
    staleness.seen("b");
    clock.advance(6 * S); // a and c go stale, b stays live
    assert.deepEqual(staleness.counts(), { live: 1, stale: 2 });
    const lastA = staleness.lastSeen("a")!;
    assert.deepEqual([...staleness.stale()], [["a", lastA], ["c", staleness.lastSeen("c")!]]);

    staleness.forget("a");
    assert.deepEqual(staleness.counts(), { live: 1, stale: 1 });
    assert.deepEqual([...staleness.stale()].map(([id]) => id), ["c"]);
    assert.equal(staleness.status("a"), undefined);
    assert.equal(staleness.lastSeen("a"), undefined);
    assert.equal(staleness.threshold("a"), undefined);

    staleness.forget("b"); // live, with a deadline pending
    staleness.forget("unknown");
    assert.deepEqual(staleness.counts(), { live: 0, stale: 1 });
    const before = changes.length;
    clock.advance(MIN);
    assert.equal(changes.length, before, "a forgotten sensor never goes stale");
    assert.equal(clock.pendingTimers, 0, "no deadline left for a forgotten sensor");

    staleness.seen("a"); // known afresh: live without an announcement
    assert.equal(changes.length, before);
    assert.equal(staleness.status("a"), "live");
    assert.equal(staleness.threshold("a"), 30 * S);
    assert.deepEqual(staleness.counts(), { live: 1, stale: 1 });
    staleness.close();
  });

  await t.step("close leaves no timer, and readings after it arm none", () => {
    const { clock, changes, staleness } = setup();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) staleness.seen(`s${i}`);
      clock.advance(2 * S);
    }
    assert.equal(clock.pendingTimers, 1, "one timer for every sensor");
    staleness.close();
    assert.equal(clock.pendingTimers, 0);
    staleness.seen("s1");
    staleness.seen("new");
    assert.equal(clock.pendingTimers, 0);
    clock.advance(10 * MIN);
    assert.deepEqual(changes, []);
    assert.equal(staleness.status("s1"), "live", "statuses stay readable");
  });

  await t.step("a --stale-after that is not a finite number > 0 is refused", () => {
    for (const staleAfterMs of [0, -1, NaN, Infinity]) {
      assert.throws(() => setup(staleAfterMs), RangeError);
    }
  });
});

Deno.test("10,000 sensors each publishing every second share one timer", () => {
  const { clock, changes, staleness } = setup();
  const ids = Array.from({ length: 10_000 }, (_, i) => `sensor-${i}`);
  // 30 rounds: 300,000 seen() calls, each a heap update (O(log n)), not a timer per sensor.
  for (let round = 0; round < 30; round++) {
    for (const id of ids) {
      clock.advance(0.1);
      staleness.seen(id);
    }
  }
  assert.equal(clock.pendingTimers, 1);
  assert.deepEqual(staleness.counts(), { live: 10_000, stale: 0 });
  assert.equal(staleness.threshold("sensor-0"), 10 * S);
  clock.advance(10 * S);
  assert.equal(changes.length, 10_000);
  assert.deepEqual(staleness.counts(), { live: 0, stale: 10_000 });
  assert.equal(clock.pendingTimers, 0);
  staleness.close();
});
