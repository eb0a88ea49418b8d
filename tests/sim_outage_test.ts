/** Planned outages: which readings are withheld and when a sensor goes silent or resumes. */
import assert from "node:assert/strict";
import { OptionError } from "../lib/errors.ts";
import { checkOutages, DEFAULT_OUTAGE_START_MS, OutagePlan } from "../sim/outage.ts";
import { Progress, type SimulatorStatus } from "../sim/progress.ts";
import { Schedule } from "../sim/schedule.ts";
import { FakeClock } from "./_fake_clock.ts";

Deno.test("outage plan", async (t) => {
  await t.step("a sensor is silent from its start (10 s by default) until start + duration", () => {
    const plan = new OutagePlan([
      { sensorId: "V3", durationMs: 30_000 },
      { sensorId: "V5", durationMs: 2_000, startMs: 1_000 },
    ]);
    assert.equal(DEFAULT_OUTAGE_START_MS, 10_000);
    assert.deepEqual(
      [9_999, 10_000, 39_999, 40_000].map((ms) => plan.silentUntil("V3", ms)),
      [undefined, 40_000, 40_000, undefined],
    );
    assert.equal(plan.silentUntil("V5", 1_000), 3_000);
    assert.equal(plan.silentUntil("V1", 20_000), undefined, "other sensors are not affected");
  });

  await t.step("reports the first withheld reading and the first one after, once each", () => {
    const plan = new OutagePlan([{ sensorId: "V3", durationMs: 2_000, startMs: 1_000 }]);
    assert.deepEqual(plan.turn("V3", 500), { publish: true });
    assert.deepEqual(plan.turn("V3", 1_200), {
      publish: false,
      change: { sensorId: "V3", silent: true, atMs: 1_200, untilMs: 3_000 },
    });
    assert.deepEqual(plan.turn("V3", 2_000), { publish: false });
    assert.deepEqual(plan.turn("V1", 2_100), { publish: true });
    assert.deepEqual(plan.turn("V3", 3_200), {
      publish: true,
      change: { sensorId: "V3", silent: false, atMs: 3_200, silentMs: 2_000 },
    });
    assert.deepEqual(plan.turn("V3", 3_300), { publish: true });
  });

  await t.step("overlapping or back-to-back outages of one sensor are one silence", () => {
    const plan = new OutagePlan([
      { sensorId: "V3", durationMs: 1_000, startMs: 1_000 },
      { sensorId: "V3", durationMs: 1_000, startMs: 2_000 },
      { sensorId: "V3", durationMs: 500, startMs: 2_500 },
      { sensorId: "V3", durationMs: 1_000, startMs: 5_000 },
    ]);
    assert.equal(plan.silentUntil("V3", 1_500), 3_000);
    assert.equal(plan.silentUntil("V3", 4_000), undefined);
    assert.equal(plan.silentUntil("V3", 5_500), 6_000, "a later outage repeats it");
  });

  await t.step("checks name the option: unknown sensor, no duration, negative start", () => {
    const sensors = ["V1", "V3"];
    checkOutages([{ sensorId: "V3", durationMs: 1, startMs: 0 }], sensors);
    const bad = [
      [{ sensorId: "V9", durationMs: 1_000 }, /names sensor 'V9', which this run does not/],
      [{ sensorId: "V3", durationMs: 0 }, /must last > 0 ms/],
      [{ sensorId: "V3", durationMs: 1_000, startMs: -1 }, /must start at >= 0 ms/],
    ] as const;
    for (const [outage, message] of bad) {
      assert.throws(() => checkOutages([outage], sensors), (e: unknown) => {
        assert.ok(e instanceof OptionError);
        assert.equal(e.option, "outages");
        assert.match(e.message, message);
        return true;
      });
    }
  });
});

Deno.test("a run on a hand-held clock: V3 publishes nothing in its outage, then resumes", () => {
  // The simulator's loop: each slot's sensor, at the slot's time, asks the plan.
  const clock = new FakeClock(50_000);
  const sensors = ["V1", "V2", "V3", "V4"];
  const schedule = Schedule.of({ sensors, intervalMs: 1_000, durationMs: 60_000 }, clock.now());
  const plan = new OutagePlan([{ sensorId: "V3", durationMs: 30_000, startMs: 20_000 }]);
  const published: Array<{ id: string; at: number }> = [];
  const changes: string[] = [];
  for (let k = 0; schedule.includes(k); k++) {
    clock.advance(schedule.dueAt(k) - clock.now());
    const id = sensors[k % sensors.length]!;
    const turn = plan.turn(id, schedule.elapsedAt(k));
    if (turn.change) {
      changes.push(`${turn.change.silent ? "silent" : "resumed"} at ${turn.change.atMs}`);
    }
    if (turn.publish) published.push({ id, at: clock.now() - 50_000 });
  }
  const v3 = published.filter((p) => p.id === "V3").map((p) => p.at);
  assert.equal(v3.filter((at) => at >= 20_000 && at < 50_000).length, 0, "silent in the window");
  assert.equal(Math.max(...v3.filter((at) => at < 20_000)), 19_500, "its last reading before");
  assert.equal(Math.min(...v3.filter((at) => at >= 50_000)), 50_500, "its first one after");
  assert.equal(v3.length, 30, "a reading a second for the other 30 s");
  assert.equal(published.filter((p) => p.id === "V1").length, 60, "V1 carries on");
  assert.deepEqual(changes, ["silent at 20500", "resumed at 50500"]);
});

Deno.test("readings withheld do not count towards `count`", () => {
  const s = new Schedule({ startMs: 0, gapMs: 10, count: 3 });
  assert.equal(s.includes(5, 2), true, "slot 5 with 2 sent: one more to go");
  assert.equal(s.includes(5, 3), false);
  assert.equal(s.includes(3), false, "without outages, sent = k");
});

Deno.test("progress lists the silent sensors, sorted, in each report", () => {
  const seen: SimulatorStatus[] = [];
  const progress = new Progress(1, (s) => seen.push(s));
  progress.outage("V5", true);
  progress.outage("V3", true);
  progress.outage("V5", false);
  assert.deepEqual(seen.map((s) => s.silent), [["V5"], ["V3", "V5"], ["V3"]]);
});
