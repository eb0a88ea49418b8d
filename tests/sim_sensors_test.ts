import assert from "node:assert/strict";
import { SensorPayloadSchema } from "../protocol/mod.ts";
import { createRandom } from "../sim/random.ts";
import {
  initialState,
  INVALID_KINDS,
  invalidPayload,
  nextReading,
  readingPayload,
  type SensorValues,
} from "../sim/sensors.ts";

const HOUR = 3_600_000;
/** 2024-06-01T00:00:00Z, midnight UTC (the model's clock). */
const MIDNIGHT = Date.UTC(2024, 5, 1);

interface Sample {
  t: number;
  values: SensorValues;
  irrigated: boolean;
}

/** Runs one station from `start` in steps of `stepMs`. */
function run(seed: number, steps: number, stepMs: number, start = MIDNIGHT): Sample[] {
  const random = createRandom(seed);
  let state = initialState("V1", random, start);
  const out: Sample[] = [];
  for (let i = 1; i <= steps; i++) {
    const t = start + i * stepMs;
    const r = nextReading(state, t, random);
    state = r.state;
    out.push({ t, values: r.values, irrigated: r.irrigated });
  }
  return out;
}

function correlation(xs: number[], ys: number[]): number {
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

Deno.test("seeded random numbers", async (t) => {
  await t.step("the same seed yields the same sequence in [0, 1)", () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const xs = Array.from({ length: 1_000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1_000 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });

  await t.step("different seeds yield different sequences", () => {
    const a = createRandom(1);
    const b = createRandom(2);
    const xs = Array.from({ length: 10 }, () => a());
    assert.notDeepEqual(xs, Array.from({ length: 10 }, () => b()));
  });
});

Deno.test("sensor model", async (t) => {
  await t.step("the same seed and times replay identical readings", () => {
    assert.deepEqual(run(7, 500, 60_000), run(7, 500, 60_000));
  });

  await t.step("different seeds give different readings", () => {
    assert.notDeepEqual(run(7, 50, 60_000), run(8, 50, 60_000));
  });

  await t.step("stations with different seeds differ a little", () => {
    const a = initialState("V1", createRandom(1), MIDNIGHT);
    const b = initialState("V1", createRandom(2), MIDNIGHT);
    assert.notEqual(a.meanTemperature, b.meanTemperature);
    assert.ok(Math.abs(a.meanTemperature - b.meanTemperature) <= 3);
  });

  await t.step("100k readings over many days stay inside the protocol's ranges", () => {
    for (const stepMs of [1_000, 30_000, 10 * 60_000]) {
      for (const s of run(3, 33_334, stepMs)) {
        const payload = JSON.parse(readingPayload("V1", s.t, s.values));
        const parsed = SensorPayloadSchema.safeParse(payload);
        assert.ok(parsed.success, `invalid at ${new Date(s.t).toISOString()}: ${payload}`);
        assert.ok(Object.values(s.values).every(Number.isFinite));
      }
    }
  });

  await t.step("readings carry the sensor id and a UTC timestamp with milliseconds", () => {
    const payload = JSON.parse(readingPayload("V3", MIDNIGHT + 5, run(1, 1, 1_000)[0]!.values));
    assert.equal(payload.sensor_id, "V3");
    assert.equal(payload.timestamp, "2024-06-01T00:00:00.005Z");
  });

  await t.step("a reading after a long gap is still in range", () => {
    const random = createRandom(9);
    const state = initialState("V1", random, MIDNIGHT);
    const { values } = nextReading(state, MIDNIGHT + 30 * 24 * HOUR, random);
    assert.ok(SensorPayloadSchema.safeParse(values).success);
  });

  await t.step("light is 0 at night and well above 0 at midday", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const day = run(seed, 24 * 60, 60_000);
      const at = (hour: number) => day.find((s) => s.t === MIDNIGHT + hour * HOUR)!.values;
      assert.equal(at(2).light, 0);
      assert.equal(at(22).light, 0);
      assert.ok(at(12).light > 1_000, `midday light ${at(12).light} (seed ${seed})`);
    }
  });

  await t.step("temperature is higher in the afternoon than before dawn", () => {
    const day = run(5, 24 * 60, 60_000);
    const at = (hour: number) => day.find((s) => s.t === MIDNIGHT + hour * HOUR)!.values;
    assert.ok(at(15).temperature > at(4).temperature);
  });

  await t.step("humidity moves against temperature over a day", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const day = run(seed, 24 * 60, 60_000);
      const r = correlation(
        day.map((s) => s.values.temperature),
        day.map((s) => s.values.humidity),
      );
      assert.ok(r < -0.5, `correlation ${r.toFixed(2)} (seed ${seed})`);
    }
  });

  await t.step("moisture dries between irrigations, which happen", () => {
    const days = run(11, 6 * 24 * 6, 10 * 60_000); // six days, every 10 minutes
    const events = days.flatMap((s, i) => s.irrigated ? [i] : []);
    assert.ok(events.length >= 1, "no irrigation in six days");
    for (const i of events) {
      const before = days[i - 1];
      if (before) assert.ok(days[i]!.values.moisture > before.values.moisture + 10);
    }
    const bounds = [0, ...events, days.length];
    for (let b = 0; b + 1 < bounds.length; b++) {
      const stretch = days.slice(bounds[b], bounds[b + 1]);
      if (stretch.length < 12) continue;
      const first = stretch[0]!.values.moisture;
      const last = stretch.at(-1)!.values.moisture;
      assert.ok(last < first, `moisture rose from ${first} to ${last} without irrigation`);
    }
  });
});

Deno.test("invalid payloads", async (t) => {
  await t.step("every kind is rejected by JSON.parse or the payload schema", () => {
    const random = createRandom(4);
    for (const kind of INVALID_KINDS) {
      for (let i = 0; i < 50; i++) {
        const text = invalidPayload(random, "V1", MIDNIGHT, kind);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          continue;
        }
        assert.ok(!SensorPayloadSchema.safeParse(parsed).success, `${kind} accepted: ${text}`);
      }
    }
  });

  await t.step("the seeded PRNG picks a mix of kinds", () => {
    const random = createRandom(5);
    const texts = Array.from({ length: 200 }, () => invalidPayload(random, "V1", MIDNIGHT));
    const badJson = texts.filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    });
    assert.ok(badJson.length > 10 && badJson.length < 190);
    const again = createRandom(5);
    assert.deepEqual(
      texts,
      Array.from({ length: 200 }, () => invalidPayload(again, "V1", MIDNIGHT)),
    );
  });
});
