/**
 * Commanded irrigation in the sensor model, on a hand-held clock: how much a station's published
 * moisture rises over an irrigation, compared with the same seeded run without one.
 */
import assert from "node:assert/strict";
import { SensorPayloadSchema } from "../protocol/mod.ts";
import {
  MIN_RISE,
  plannedRise,
  RISE_PER_S,
  SATURATION,
  Valves,
  wetted,
} from "../sim/irrigation.ts";
import { PayloadSource } from "../sim/payloads.ts";

const START = Date.UTC(2024, 5, 1, 6);
/** Published moisture is rounded to 0.1: a difference of two readings is off by up to this. */
const ROUNDING = 0.1 + 1e-9;

/**
 * The published moisture of V1 every `stepMs` up to `untilMs` into a seeded run, time moved by
 * hand; with `irrigation`, V1's valve opens at its `atMs` for its `durationMs`.
 */
function moistures(options: {
  stepMs: number;
  untilMs: number;
  timeScale?: number;
  irrigation?: { atMs: number; durationMs: number };
}): Map<number, number> {
  const valves = new Valves();
  const source = new PayloadSource({
    sensors: ["V1"],
    seed: 5,
    invalidRatio: 0,
    timeScale: options.timeScale ?? 1,
    starts: { modelMs: START, stampMs: START },
    valves,
  });
  const out = new Map<number, number>();
  const irrigation = options.irrigation;
  let opened = false;
  for (let k = 0, at = 0; at <= options.untilMs; k++, at = k * options.stepMs) {
    if (irrigation && !opened && at >= irrigation.atMs) {
      const moisture = source.moisture("V1", irrigation.atMs);
      valves.open("V1", {
        id: "7",
        atMs: irrigation.atMs,
        durationMs: irrigation.durationMs,
        moisture,
      });
      opened = true;
    }
    const message = source.next(k, at);
    const payload = SensorPayloadSchema.parse(JSON.parse(message.payload));
    out.set(at, payload.moisture);
  }
  return out;
}

/** Irrigated minus plain moisture at each time (the noise is the same in both: same seed). */
function rise(irrigated: Map<number, number>, plain: Map<number, number>): (at: number) => number {
  return (at) => irrigated.get(at)! - plain.get(at)!;
}

Deno.test("an irrigation makes the station's moisture rise visibly, then stop rising", async (t) => {
  await t.step("a 30 s irrigation: at least 1 point per 10 s, then flat", () => {
    const run = { stepMs: 1_000, untilMs: 90_000 };
    const plain = moistures(run);
    const up = rise(moistures({ ...run, irrigation: { atMs: 5_000, durationMs: 30_000 } }), plain);
    for (let at = 0; at <= 5_000; at += 1_000) assert.ok(Math.abs(up(at)) <= ROUNDING, `${at}`);
    for (let at = 5_000; at + 10_000 <= 35_000; at += 1_000) {
      const gained = up(at + 10_000) - up(at);
      assert.ok(gained >= 1, `only ${gained.toFixed(2)} points from ${at} to ${at + 10_000} ms`);
    }
    const total = up(35_000);
    assert.ok(Math.abs(total - 30 * RISE_PER_S) <= ROUNDING, `rose ${total}`);
    for (let at = 35_000; at <= 90_000; at += 1_000) {
      assert.ok(Math.abs(up(at) - total) <= 2 * ROUNDING, `still ${up(at)} at ${at} ms`);
    }
  });

  await t.step("a 1 s irrigation: at least 0.5 points, even sampled every 250 ms", () => {
    const run = { stepMs: 250, untilMs: 20_000 };
    const plain = moistures(run);
    const up = rise(moistures({ ...run, irrigation: { atMs: 5_000, durationMs: 1_000 } }), plain);
    assert.ok(up(6_000) >= 0.5, `rose ${up(6_000)}`);
    assert.ok(up(5_500) > 0 && up(5_500) < up(6_000), "rises over the second, not at once");
    for (let at = 6_000; at <= 20_000; at += 250) {
      assert.ok(Math.abs(up(at) - up(6_000)) <= 2 * ROUNDING, `${at}`);
    }
  });

  await t.step("the rise follows run time, whatever the simulated time scale", () => {
    const run = { stepMs: 1_000, untilMs: 40_000, timeScale: 1_440 };
    const plain = moistures(run);
    const up = rise(moistures({ ...run, irrigation: { atMs: 5_000, durationMs: 10_000 } }), plain);
    assert.ok(Math.abs(up(15_000) - 10 * RISE_PER_S) <= ROUNDING, `rose ${up(15_000)}`);
  });

  await t.step("an hour-long irrigation fills the soil to saturation, inside the range", () => {
    const run = { stepMs: 60_000, untilMs: 2 * 3_600_000 };
    const wet = moistures({ ...run, irrigation: { atMs: 0, durationMs: 3_600_000 } });
    const top = Math.max(...wet.values());
    assert.ok(top <= SATURATION + 1 && top >= SATURATION - 1, `top ${top}`);
  });
});

Deno.test("irrigation model", async (t) => {
  await t.step("plans 0.15 points a second, and never less than 1 point", () => {
    assert.equal(MIN_RISE, 1);
    assert.equal(plannedRise(1_000), 1);
    assert.equal(plannedRise(10_000), 1.5);
    assert.equal(plannedRise(30_000), 4.5);
  });

  await t.step("water comes evenly over the valve's time, once, and none after it", () => {
    const valves = new Valves();
    valves.open("V1", { id: "a", atMs: 1_000, durationMs: 10_000, moisture: 50 });
    assert.equal(valves.water("V1", 500), 0, "not before it opens");
    assert.ok(Math.abs(valves.water("V1", 6_000) - 0.75) < 1e-9);
    assert.equal(valves.water("V1", 6_000), 0, "nothing twice");
    assert.equal(valves.water("V1", 5_000), 0, "nothing for a time already served");
    assert.ok(Math.abs(valves.water("V1", 30_000) - 0.75) < 1e-9, "the rest, up to its end");
    assert.equal(valves.water("V2", 30_000), 0, "other stations get none");
    assert.deepEqual(valves.irrigating, ["V1"]);
    assert.equal(valves.close("V1")?.before, 50);
    assert.deepEqual(valves.irrigating, []);
    assert.equal(valves.water("V1", 40_000), 0);
  });

  await t.step("one valve per station at a time", () => {
    const valves = new Valves();
    valves.open("V2", { id: "a", atMs: 0, durationMs: 1_000, moisture: 50 });
    valves.open("V1", { id: "b", atMs: 0, durationMs: 1_000, moisture: 50 });
    assert.deepEqual(valves.irrigating, ["V1", "V2"]);
    assert.throws(
      () => valves.open("V1", { id: "c", atMs: 0, durationMs: 1_000, moisture: 50 }),
      RangeError,
    );
  });

  await t.step("a stuck valve gives no water", () => {
    const valves = new Valves();
    valves.open("V1", { id: "a", atMs: 0, durationMs: 1_000, rise: 0, moisture: 50 });
    assert.equal(valves.water("V1", 1_000), 0);
  });

  await t.step("soil takes water up to saturation, and is never dried by it", () => {
    assert.equal(wetted(50, 1.5), 51.5);
    assert.equal(wetted(94.8, 1), SATURATION);
    assert.equal(wetted(96, 1), 96);
    assert.ok(SATURATION + 1 < 100, "noise on top stays inside the protocol's range");
  });
});
