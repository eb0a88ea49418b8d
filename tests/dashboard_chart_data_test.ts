/** The dashboard's chart data: one shared time grid per chart, about one point per pixel. */
import assert from "node:assert/strict";
import { ChartGrid, colorOf, columnMs, gapAfter } from "../dashboard/chart_data.js";
import { Model } from "../dashboard/state.js";

const T0 = Date.parse("2025-12-06T14:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
const values = (moisture: number) => ({ moisture, temperature: 22.1, humidity: 65.5, light: 800 });

Deno.test("chart data: one shared time grid, gaps only where a sensor fell silent", () => {
  const model = new Model();
  for (let s = 0; s < 4; s++) model.addReading("V1", values(s), iso(T0 + s * 1_000));
  model.addReading("V1", values(9), iso(T0 + 60_000)); // after a minute of silence
  model.addReading("V2", values(7), iso(T0 + 1_500));
  const grid = { from: T0, to: T0 + 60_000, widthMs: 500 };
  const charts = new ChartGrid().update(model, ["V1", "V2"], grid);
  const [xs, v1, v2] = charts.moisture;
  assert.equal(charts.light[0], xs, "one grid for every chart");
  const at = (ms: number) => xs.indexOf((T0 + ms) / 1000);
  assert.equal(charts.light[2]![at(1_500)], 800);
  assert.deepEqual(v1![at(0)], 0);
  assert.equal(v1![at(1_500)], undefined, "no V1 reading there: drawn through");
  assert.equal(v1![at(2_500)], undefined, "a usual interval: drawn through");
  for (const ms of [3_500, 30_000, 59_500]) {
    assert.equal(v1![at(ms)], null, `the silence is a gap (${ms} ms)`);
  }
  assert.equal(v1![at(60_000)], 9);
  assert.equal(v2![at(1_500)], 7);
  assert.deepEqual(xs, [...xs].sort((a, b) => a - b));
  assert.equal(gapAfter([0, 1_000, 2_000]), 10_000);
  assert.equal(gapAfter([0, 60_000, 120_000]), 180_000);
  assert.equal(colorOf("V1", false), colorOf("V1", false));
  assert.notEqual(colorOf("V1", false), colorOf("V2", false));
});

Deno.test("chart data: about one point per pixel, the model's readings untouched", async (t) => {
  const model = new Model();
  // 4 readings a second for a minute: a smooth ramp with one spike.
  for (let k = 0; k < 240; k++) {
    model.addReading("V1", values(k === 101 ? 500 : k), iso(T0 + k * 250));
  }
  const widthMs = columnMs(60_000, 60);
  assert.equal(widthMs, 1_000, "a minute over 60 px: a column a second");
  const grid = new ChartGrid();
  const [xs, v1] = grid.update(model, ["V1"], { from: T0, to: T0 + 60_000, widthMs }).moisture;

  await t.step("a column holds one value per sensor", () => {
    const points = v1!.filter((v) => typeof v === "number");
    assert.equal(points.length, 60);
    assert.equal(grid.count("V1"), 60, "as counted for the chart's dots");
    assert.equal(model.series("moisture", "V1").length, 240, "the model keeps them all");
  });

  await t.step("a spike survives", () => {
    assert.ok(v1!.includes(500));
  });

  await t.step("as time moves on, the grid moves with it: appended, not rebuilt", () => {
    const before = xs.slice();
    const again = grid.update(model, ["V1"], { from: T0 + 3_000, to: T0 + 63_000, widthMs });
    assert.equal(again.moisture[0], xs, "the same array");
    assert.deepEqual(xs.slice(0, before.length - 3), before.slice(3));
    assert.equal(xs[0], (T0 + 3_000) / 1000);
    assert.equal(xs.at(-1), (T0 + 63_000 + 60_000) / 1000, "up to a minute ahead");
    assert.equal(again.moisture[1]![0], 12, "readings before the window are left out");
  });

  await t.step("column widths are at least a pixel, in steps", () => {
    assert.equal(columnMs(15 * 60_000, 530), 1_700);
    assert.equal(columnMs(15 * 60_000, 531), 1_700, "a pixel more keeps the grid");
    assert.equal(columnMs(15 * 60_000, 0), 15 * 60_000);
  });
});
