/** The `tail` table model with `history` replies and stale sensors. */
import assert from "node:assert/strict";
import { envelopeOf } from "../protocol/mod.ts";
import { TableModel } from "../tail/view.ts";
import { ESC, reading, T0, URL_SHOWN } from "./_tail_view.ts";

Deno.test("table model with history and stale sensors", async (t) => {
  const bars = (text: string, id: string) =>
    text.split("\n").find((l) => l.startsWith(`${id} `))?.match(/[▁▂▃▄▅▆▇█]+/)?.[0] ?? "";
  const levels = (line: string) => [...line].map((c) => "▁▂▃▄▅▆▇█".indexOf(c));

  await t.step("history fills the sparkline in time order, each reading once", () => {
    const model = new TableModel(URL_SHOWN, { historySize: 10 });
    model.apply(reading("V1", { moisture: 60 }, T0), T0);
    // Older readings rising to the live one, out of order, one of them twice, and the live
    // one again: [moisture, seconds before T0].
    const older = [[10, 6], [30, 3], [20, 5], [20, 5], [40, 2], [50, 1], [60, 0]] as const;
    model.backfill(older.map(([m, s]) => reading("V1", { moisture: m }, T0 - s * 1_000)), T0);
    const line = bars(model.render(T0, { color: false }), "V1");
    assert.equal(line.length, 6, `bars: ${line}`);
    const l = levels(line);
    assert.deepEqual(l, [...l].sort((a, b) => a - b), "oldest first: rising");
    assert.match(model.render(T0, { color: false }), /^V1 .*60\.0 %/m, "the live values stay");
  });

  await t.step("a history reading newer than the row's shows as its values", () => {
    const model = new TableModel(URL_SHOWN);
    model.backfill([reading("V2", { moisture: 33 }, T0 - 5_000)], T0);
    assert.match(model.render(T0, { color: false }), /^V2 .*33\.0 %.* 5s /m);
    model.backfill([reading("V2", { moisture: 10 }, T0 - 9_000)], T0);
    assert.match(model.render(T0, { color: false }), /^V2 .*33\.0 %/m, "an older one does not");
  });

  await t.step("keeps the newest historySize readings of a long history", () => {
    const model = new TableModel(URL_SHOWN, { historySize: 4 });
    const many = Array.from({ length: 50 }, (_, i) => reading("V1", { moisture: i }, T0 + i));
    model.backfill(many, T0);
    model.backfill([reading("V1", { moisture: 0 }, T0 - 10)], T0);
    assert.equal(bars(model.render(T0 + 100, { color: false }), "V1").length, 4);
    assert.match(model.render(T0 + 100, { color: false }), /^V1 .*49\.0 %/m);
  });

  await t.step("a stale sensor says stale and its age, without colours too", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1", {}, T0 - 400_000), T0);
    model.apply(reading("V2", {}, T0), T0);
    const lastSeen = new Date(T0 - 300_000).toISOString();
    model.apply(
      envelopeOf(
        "sensor_status",
        { sensor_id: "V1", status: "stale", last_seen: lastSeen },
        new Date(T0),
      ),
      T0,
    );
    const plain = model.render(T0, { color: false });
    assert.match(plain, /^V1 .* stale 5m /m);
    assert.doesNotMatch(plain, /^V2 .*stale/m);
    assert.ok(!plain.includes(ESC));
    const coloured = model.render(T0, { color: true });
    const v1 = coloured.split("\n").find((l) => l.includes("V1"))!;
    assert.ok(v1.includes(`${ESC}[2m`), "values dimmed");
    assert.ok(v1.includes(`${ESC}[33m  stale 5m${ESC}[0m`), v1);
  });

  await t.step("live again: by status, or by a live reading; history does not revive", () => {
    const model = new TableModel(URL_SHOWN);
    const status = (s: "stale" | "live") =>
      envelopeOf("sensor_status", {
        sensor_id: "V1",
        status: s,
        last_seen: new Date(T0 - 60_000).toISOString(),
      }, new Date(T0));
    model.apply(reading("V1", {}, T0 - 60_000), T0);
    model.apply(status("stale"), T0);
    model.backfill([reading("V1", { moisture: 1 }, T0 - 90_000)], T0);
    assert.match(model.render(T0, { color: false }), /stale 1m/);
    model.apply(status("live"), T0);
    assert.doesNotMatch(model.render(T0, { color: false }), /stale/);
    model.apply(status("stale"), T0);
    model.apply(reading("V1", {}, T0), T0);
    assert.doesNotMatch(model.render(T0, { color: false }), /stale/);
  });

  await t.step("a stale sensor it has no reading of gets a row of its own", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(
      envelopeOf("sensor_status", {
        sensor_id: "V7",
        status: "stale",
        last_seen: new Date(T0 - 7_200_000).toISOString(),
      }, new Date(T0)),
      T0,
    );
    assert.match(model.render(T0, { color: false }), /^V7 +– +– +– +– +stale 2h/m);
  });
});
