/** The simulator's timetable and seeded payload stream, without a broker or a clock. */
import assert from "node:assert/strict";
import { SensorPayloadSchema } from "../protocol/mod.ts";
import { clockStarts, PayloadSource, REPLAY_START } from "../sim/payloads.ts";
import { Progress, type SimulatorStatus } from "../sim/progress.ts";
import { Schedule } from "../sim/schedule.ts";

const START = Date.UTC(2024, 5, 1);

Deno.test("simulator schedule", async (t) => {
  await t.step("message k is due at start + k·gap, however late the ones before went", () => {
    const s = new Schedule({ startMs: 1_000, gapMs: 250 });
    assert.deepEqual([0, 1, 4].map((k) => s.dueAt(k)), [1_000, 1_250, 2_000]);
    assert.equal(s.endMs, Infinity);
  });

  await t.step("an interval is spread over the sensors; a rate is over all of them", () => {
    const sensors = ["V1", "V2", "V3", "V4"];
    assert.equal(Schedule.of({ sensors, intervalMs: 1_000 }, 0).dueAt(1), 250);
    assert.equal(Schedule.of({ sensors, intervalMs: 1_000, ratePerSec: 50 }, 0).dueAt(1), 20);
  });

  await t.step("ends at `count` messages or before the end of the duration", () => {
    const counted = Schedule.of({ sensors: ["V1"], intervalMs: 10, count: 3 }, 0);
    assert.deepEqual([2, 3].map((k) => counted.includes(k)), [true, false]);
    const timed = Schedule.of({ sensors: ["V1"], intervalMs: 10, durationMs: 30 }, 100);
    assert.equal(timed.endMs, 130);
    assert.deepEqual([2, 3].map((k) => timed.includes(k)), [true, false]);
  });

  await t.step("time held for the broker moves the schedule and the simulated time alike", () => {
    const s = new Schedule({ startMs: 0, gapMs: 100, endMs: 1_000 });
    assert.equal(s.elapsedAt(2), 200);
    s.hold(500);
    assert.deepEqual([s.dueAt(2), s.elapsedAt(2)], [700, 700]);
    assert.equal(s.includes(5), false, "held time counts against the duration");
  });
});

Deno.test("simulator payloads", async (t) => {
  const run = (seed: number, invalidRatio = 0) => {
    const source = new PayloadSource({
      sensors: ["V1", "V2"],
      seed,
      invalidRatio,
      timeScale: 60,
      starts: { modelMs: START, stampMs: START },
    });
    return Array.from({ length: 20 }, (_, k) => source.next(k, k * 1_000));
  };

  await t.step("go to the sensors round-robin, stamped on the scaled clock", () => {
    const messages = run(1);
    assert.deepEqual(messages.slice(0, 3).map((m) => m.sensorId), ["V1", "V2", "V1"]);
    assert.equal(messages[2]!.stamp, START + 2 * 60_000);
    for (const m of messages) {
      const payload = SensorPayloadSchema.parse(JSON.parse(m.payload));
      assert.equal(payload.sensor_id, m.sensorId);
      assert.equal(payload.timestamp, new Date(m.stamp).toISOString());
    }
  });

  await t.step("the same seed replays the same payloads; another seed does not", () => {
    assert.deepEqual(run(7), run(7));
    assert.notDeepEqual(run(7), run(8));
  });

  await t.step("an invalid ratio mixes in malformed payloads, marked as such", () => {
    const messages = run(3, 0.5);
    const invalid = messages.filter((m) => m.invalid);
    assert.ok(invalid.length > 2 && invalid.length < 18, `${invalid.length} of 20`);
    for (const m of messages.filter((m) => !m.invalid)) {
      assert.ok(SensorPayloadSchema.safeParse(JSON.parse(m.payload)).success, m.payload);
    }
  });

  await t.step("the clocks start at --start, or a fixed morning for a seed, or now", () => {
    assert.deepEqual(clockStarts(START, { seeded: true, nowMs: 5 }), {
      modelMs: START,
      stampMs: START,
    });
    assert.deepEqual(clockStarts(undefined, { seeded: true, nowMs: 5 }), {
      modelMs: REPLAY_START,
      stampMs: 5,
    });
    assert.deepEqual(clockStarts(undefined, { seeded: false, nowMs: 5 }), {
      modelMs: 5,
      stampMs: 5,
    });
  });
});

const NO_COMMANDS = { received: 0, accepted: 0, done: 0, failed: 0, unanswered: 0, malformed: 0 };

Deno.test("simulator progress counts outcomes and reports a copy on every change", () => {
  const seen: SimulatorStatus[] = [];
  const progress = new Progress(42, (s) => seen.push(s));
  const message = { sensorId: "V1", payload: "{}", stamp: 0 };
  progress.broker("connected");
  progress.publishing(123);
  progress.settled({ ...message, invalid: false }, false, 10);
  progress.settled({ ...message, invalid: true }, false, 20);
  progress.settled({ ...message, invalid: false }, true, 30);
  progress.finished(40);
  assert.deepEqual(seen.at(-1), {
    broker: "connected",
    published: 2,
    invalid: 1,
    failed: 1,
    elapsedMs: 40,
    simulatedTime: 123,
    silent: [],
    irrigating: [],
    commands: NO_COMMANDS,
  });
  assert.equal(seen.length, 5);
  assert.notEqual(seen[0], seen[1], "each report is its own copy");
  assert.deepEqual(progress.summary(), {
    published: 2,
    invalid: 1,
    failed: 1,
    elapsedMs: 40,
    seed: 42,
    commands: NO_COMMANDS,
  });
});
