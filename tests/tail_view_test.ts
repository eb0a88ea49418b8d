/** The `tail` views: the live table model, the line format and the in-place screen. */
import assert from "node:assert/strict";
import { envelopeOf } from "../protocol/mod.ts";
import { LiveScreen } from "../tail/screen.ts";
import { formatLine, sparkline, TableModel } from "../tail/view.ts";
import { CappedMap } from "../tail/capped_map.ts";
import { connected, ESC, reading, SGR, T0, URL_SHOWN } from "./_tail_view.ts";

Deno.test("formatLine shows one reading with units", () => {
  assert.equal(
    formatLine(reading("V1")),
    "2025-12-06T14:30:00.000Z V1 moisture=45.2% temperature=22.1°C humidity=65.5% light=800lx",
  );
});

Deno.test("sparkline", async (t) => {
  await t.step("draws one bar per value, lowest at min and highest at max", () => {
    const line = sparkline([0, 25, 50, 75, 100], 0, 100);
    assert.equal(line.length, 5);
    assert.equal(line[0], "▁");
    assert.equal(line[4], "█");
    const levels = [...line].map((c) => "▁▂▃▄▅▆▇█".indexOf(c));
    assert.deepEqual(levels, [...levels].sort((a, b) => a - b), "rising values draw rising bars");
  });
  await t.step("clamps values outside the range", () => {
    assert.equal(sparkline([-10, 200], 0, 100), "▁█");
  });
  await t.step("draws a flat range at one height", () => {
    const line = sparkline([5, 5, 5], 5, 5);
    assert.equal(new Set(line).size, 1);
  });
});

Deno.test("table model", async (t) => {
  await t.step("renders one row per sensor, in natural order, with its values", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    for (const id of ["V10", "V2", "V1"]) model.apply(reading(id), T0);
    const lines = model.render(T0 + 1_000, { color: false }).split("\n");
    const rows = lines.filter((l) => /^V\d+ /.test(l));
    assert.deepEqual(rows.map((r) => r.split(" ")[0]), ["V1", "V2", "V10"]);
    for (const row of rows) {
      assert.match(row, /45\.2 %/);
      assert.match(row, /22\.1 °C/);
      assert.match(row, /65\.5 %/);
      assert.match(row, /800 lx/);
    }
  });

  await t.step("keeps the latest values of a sensor", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1", { moisture: 40 }), T0);
    model.apply(reading("V1", { moisture: 41.5, light: 12.5 }), T0);
    const text = model.render(T0, { color: false });
    assert.match(text, /41\.5 %/);
    assert.match(text, /12\.5 lx/);
    assert.doesNotMatch(text, /40\.0 %/);
  });

  await t.step("shows connection state, broker state and client count in the header", () => {
    const model = new TableModel(URL_SHOWN);
    const header = () => model.render(T0, { color: false }).split("\n")[0]!;
    assert.match(header(), /connecting/);
    connected(model, 7);
    assert.match(header(), new RegExp(URL_SHOWN));
    assert.match(header(), /connected/);
    assert.match(header(), /broker: connected/);
    assert.match(header(), /clients at connect: 7/);
    model.setState("reconnecting");
    assert.match(header(), /reconnecting/);
    assert.match(
      header(),
      /broker: unknown/,
      "a lost connection's broker state is not shown as current",
    );
    model.apply(envelopeOf("bridge_status", { mqtt: "disconnected" }, new Date(T0)), T0);
    assert.match(header(), /broker: disconnected/);
    model.setState("reconnecting");
    assert.match(header(), /reconnecting/);
  });

  await t.step("widens the sensor column for long sensor ids", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    model.apply(reading("greenhouse-north-bed-12"), T0);
    const lines = model.render(T0, { color: false }).split("\n");
    const col = (prefix: string) => lines.find((l) => l.startsWith(prefix))!.indexOf("45.2 %");
    assert.equal(col("V1 "), col("greenhouse-north-bed-12"), "values line up");
  });

  await t.step("says it is waiting before the first reading", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    assert.match(model.render(T0, { color: false }), /waiting for readings/);
  });

  await t.step("shows the age of each reading from its timestamp", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1", {}, T0), T0);
    model.apply(reading("V2", {}, T0 - 180_000), T0);
    const text = model.render(T0 + 12_000, { color: false });
    assert.match(text, /^V1 .* 12s /m);
    assert.match(text, /^V2 .* 3m /m);
  });

  await t.step("counts a reading with a timestamp ahead of the clock as age 0", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1", {}, T0 + 60_000), T0);
    assert.match(model.render(T0, { color: false }), /^V1 .* 0s /m);
  });

  await t.step("draws a sparkline of recent moisture, at most historySize bars", () => {
    const model = new TableModel(URL_SHOWN, { historySize: 5 });
    for (let i = 0; i < 8; i++) model.apply(reading("V1", { moisture: 30 + i * 5 }), T0);
    const row = model.render(T0, { color: false }).split("\n").find((l) => l.startsWith("V1"))!;
    const bars = row.match(/[▁▂▃▄▅▆▇█]+/)?.[0] ?? "";
    assert.equal(bars.length, 5);
    assert.equal(bars[0], "▁");
    assert.equal(bars[4], "█");
  });

  await t.step("uses colours only when asked (NO_COLOR)", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    model.apply(reading("V1"), T0);
    assert.ok(model.render(T0, { color: true }).includes(ESC), "colour codes when color");
    assert.ok(!model.render(T0, { color: false }).includes(ESC), "no escape codes without");
  });

  await t.step("is never taller than the terminal: the rest is summed up as +N more", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    for (let i = 1; i <= 30; i++) model.apply(reading(`V${i}`), T0);
    const lines = model.render(T0, { color: false, rows: 10 }).split("\n");
    assert.equal(lines.length, 10);
    assert.deepEqual(lines.filter((l) => /^V\d+ /.test(l)).map((l) => l.split(" ")[0]), [
      "V1",
      "V2",
      "V3",
      "V4",
      "V5",
      "V6",
    ]);
    assert.equal(lines.at(-1), "+24 more");
    const all = model.render(T0, { color: false, rows: 33 }).split("\n");
    assert.equal(all.length, 33, "everything shown when it fits");
    assert.ok(!all.some((l) => l.includes("more")));
  });

  await t.step("keeps at most 1,000 sensors, forgetting the least recently updated", () => {
    const model = new TableModel(URL_SHOWN);
    for (let i = 0; i < 100_000; i++) model.apply(reading(`S${i}`), T0);
    assert.equal(model.sensorCount, 1_000);
    const text = model.render(T0, { color: false, rows: 10 });
    assert.match(text, /^S99000 /m, "the most recent are kept");
    assert.doesNotMatch(text, /^S0 /m);
    const lines = text.split("\n");
    assert.ok(lines.length <= 10);
    assert.match(
      lines.at(-1)!,
      /^\+994 more; 99000 least recently updated forgotten \(tail keeps 1000 sensors\)$/,
    );
  });

  await t.step("cuts every line to the terminal width, colours or not", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    for (let i = 0; i < 30; i++) model.apply(reading("V1", { moisture: i }), T0);
    for (const color of [false, true]) {
      const plain = model.render(T0, { color, columns: 40 }).replaceAll(SGR, "");
      for (const line of plain.split("\n")) assert.ok(line.length < 40, `too wide: ${line}`);
    }
  });
});

Deno.test("live screen", async (t) => {
  const make = (frames: string[], now = () => 0) => {
    let out = "";
    let i = 0;
    const screen = new LiveScreen(
      (s) => out += s,
      () => frames[Math.min(i++, frames.length - 1)]!,
      {
        tickMs: 0,
        now,
      },
    );
    return { screen, out: () => out, reset: () => out = "" };
  };

  await t.step("hides the cursor, redraws over the previous frame and restores it", () => {
    const { screen, out, reset } = make(["a\nb\nc", "d\ne\nf", "g\nh\ni"]);
    screen.start();
    assert.ok(out().startsWith("\x1b[?25l"), "cursor hidden");
    assert.ok(out().includes("a\x1b[K\nb\x1b[K\nc\x1b[K"));
    reset();
    screen.draw();
    assert.ok(out().startsWith("\r\x1b[2A"), "moves up over the 3-line frame");
    assert.ok(out().includes("d\x1b[K\ne\x1b[K\nf\x1b[K\x1b[J"));
    reset();
    screen.stop();
    assert.ok(out().endsWith("\n\x1b[?25h"), "cursor shown again below the frame");
    reset();
    screen.draw();
    assert.equal(out(), "", "nothing drawn after stop");
  });

  await t.step("erases the frame for a log line and draws it again below", () => {
    const { screen, out, reset } = make(["a\nb"]);
    screen.start();
    reset();
    screen.log(() => reset());
    assert.equal(out(), "a\x1b[K\nb\x1b[K\x1b[J", "fresh frame after the log line");
    screen.stop();
  });

  await t.step("draws at most once per interval", () => {
    let clock = 0;
    const { screen, out, reset } = make(["x"], () => clock);
    screen.start();
    reset();
    screen.invalidate();
    assert.equal(out(), "", "a redraw right after a draw waits");
    clock = 150;
    screen.stop(); // clears the pending redraw timer
    assert.ok(out().includes("x"));
    reset();
    const later = make(["y"], () => clock);
    later.screen.start();
    later.reset();
    clock = 1_000;
    later.screen.invalidate();
    assert.ok(later.out().includes("y"), "an old frame is redrawn at once");
    later.screen.stop();
  });
});

Deno.test("capped map", async (t) => {
  await t.step("holds at most max entries however many keys come", () => {
    const map = new CappedMap<string, number>(1_000);
    for (let i = 0; i < 100_000; i++) map.set(`id${i}`, i);
    assert.equal(map.size, 1_000);
    assert.equal(map.evicted, 99_000);
    assert.equal(map.get("id99999"), 99_999);
    assert.equal(map.get("id0"), undefined);
  });

  await t.step("forgets the least recently set key first", () => {
    const map = new CappedMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 3);
    map.set("c", 4);
    assert.deepEqual([...map.keys()], ["a", "c"]);
  });

  await t.step("refuses a size that is not a positive integer", () => {
    for (const max of [0, -1, 1.5, NaN]) assert.throws(() => new CappedMap(max), RangeError);
  });
});
