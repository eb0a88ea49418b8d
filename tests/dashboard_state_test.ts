/** The dashboard's pure parts: the model, the selection and fragment, the request plan, closes. */
import assert from "node:assert/strict";
import { describeClose } from "../dashboard/closes.js";
import {
  chunks,
  formatFragment,
  parseFragment,
  subscriptionChanges,
  toggle,
} from "../dashboard/selection.js";
import { formatAge, Model, relativeWindow } from "../dashboard/state.js";
import { SyncPlan } from "../dashboard/sync.js";
import { CLOSES, retryAfter } from "../protocol/mod.ts";

const T0 = Date.parse("2025-12-06T14:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
const values = (moisture: number) => ({ moisture, temperature: 22.1, humidity: 65.5, light: 800 });

Deno.test("the model keeps one reading per sensor and time, oldest first", async (t) => {
  await t.step("out-of-order and repeated readings merge into one sorted series", () => {
    const model = new Model();
    assert.equal(model.addReading("V1", values(3), iso(T0 + 3_000)), true);
    assert.equal(model.addReading("V1", values(1), iso(T0 + 1_000)), true);
    assert.equal(model.addReading("V1", values(2), iso(T0 + 2_000)), true);
    assert.equal(
      model.addReading("V1", values(9), iso(T0 + 2_000)),
      false,
      "same sensor, same time",
    );
    assert.equal(model.addReading("V2", values(2), iso(T0 + 2_000)), true, "another sensor");
    assert.deepEqual(model.series("moisture", "V1"), [
      [T0 + 1_000, 1],
      [T0 + 2_000, 2],
      [T0 + 3_000, 3],
    ]);
  });

  await t.step("a history reply overlapping live readings adds only what was missing", () => {
    const model = new Model();
    model.addReading("V1", values(5), iso(T0 + 5_000));
    const readings = [1, 2, 3, 4, 5].map((s) => ({ ...values(s), timestamp: iso(T0 + s * 1_000) }));
    assert.equal(model.addHistory("V1", readings), 4);
    assert.equal(model.addHistory("V1", readings), 0);
    assert.deepEqual(model.series("light", "V1").map(([at]) => (at - T0) / 1_000), [1, 2, 3, 4, 5]);
  });

  await t.step("the tile shows the newest reading, whatever order readings come in", () => {
    const model = new Model();
    model.addReading("V1", values(45.2), iso(T0 + 5_000));
    model.addHistory("V1", [{ ...values(1), timestamp: iso(T0) }]);
    const s = model.sensor("V1")!;
    assert.equal(String(s.latest!.moisture), "45.2", "as received");
    assert.equal(s.latestIso, iso(T0 + 5_000));
  });

  await t.step("invalid readings are refused", () => {
    const model = new Model();
    assert.equal(model.addReading("bad id!", values(1), iso(T0)), false);
    assert.equal(model.addReading(undefined as unknown as string, values(1), iso(T0)), false);
    assert.equal(model.addReading("V1", { ...values(1), light: "800" }, iso(T0)), false);
    assert.equal(model.addReading("V1", { ...values(1), light: NaN }, iso(T0)), false);
    assert.equal(model.addReading("V1", values(1), "yesterday"), false);
    assert.equal(model.addHistory("V1", "not a list"), 0);
    assert.deepEqual(model.ids(), []);
  });

  await t.step("ids are sorted the way people count, once per new sensor", () => {
    const model = new Model();
    for (const id of ["V10", "V2", "V1"]) model.addReading(id, values(1), iso(T0));
    const ids = model.ids();
    assert.deepEqual(ids, ["V1", "V2", "V10"]);
    model.addReading("V2", values(2), iso(T0 + 1_000));
    assert.equal(model.ids(), ids, "no new sensor: the same list");
    model.setStatus("V9", "stale");
    assert.deepEqual(model.ids(), ["V1", "V2", "V9", "V10"]);
  });

  await t.step("the window and the cap bound what is kept", () => {
    const model = new Model({ windowMs: 10_000, maxPoints: 3 });
    for (let s = 0; s < 5; s++) model.addReading("V1", values(s), iso(T0 + s * 1_000));
    assert.deepEqual(model.series("moisture", "V1").map(([, v]) => v), [2, 3, 4], "capped");
    const before = model.version;
    model.prune(T0 + 13_500);
    assert.deepEqual(model.series("moisture", "V1").map(([, v]) => v), [4]);
    assert.ok(model.version > before, "pruning redraws the charts");
    assert.equal(model.sensor("V1")!.latest!.moisture, 4, "the tile keeps its values");
  });
});

Deno.test("sensor status comes from sensor_status, and a new connection starts live", () => {
  const model = new Model();
  model.addReading("V1", values(1), iso(T0));
  model.addReading("V2", values(1), iso(T0));
  assert.deepEqual([...model.takeChanged()], ["V1", "V2"]);
  model.setStatus("V1", "stale");
  model.setStatus("V2", "live");
  model.setStatus("V2", "sleepy");
  assert.deepEqual([...model.takeChanged()], ["V1"], "only real changes");
  assert.equal(model.sensor("V1")!.status, "stale");
  model.markAllLive();
  assert.equal(model.sensor("V1")!.status, "live");
  assert.deepEqual([...model.takeChanged()], ["V1"]);
});

Deno.test("ages and the chart window follow the server's clock", () => {
  const model = new Model();
  model.observeServerTime(iso(T0), T0 - 60_000);
  assert.equal(model.serverNow(T0 - 55_000), T0 + 5_000);
  model.observeServerTime("garbage", 0);
  assert.equal(model.serverNow(T0 - 55_000), T0 + 5_000, "a bad time changes nothing");
  assert.deepEqual(
    [0, 999, 59_999, 60_000, 3_600_000, 3_660_000, 90_000_000, -5_000].map(formatAge),
    ["0 s", "0 s", "59 s", "1 min", "1 h", "1 h 1 min", "1 d", "0 s"],
  );
});

Deno.test("resume points: each sensor's newest reading as the server wrote it", () => {
  const model = new Model({ windowMs: 15 * 60_000 });
  const odd = "2025-12-06T14:00:00.123Z";
  model.addReading("V1", values(1), odd);
  model.addReading("__proto__", values(1), iso(T0));
  model.addReading("V3", values(1), iso(T0 - 3_600_000));
  const points = model.resumePoints(["V1", "__proto__", "V3", "V9"], T0 + 60_000);
  assert.deepEqual(Object.entries(points), [
    ["V1", odd],
    ["__proto__", iso(T0)],
    ["V3", "-900s"],
    ["V9", "-900s"],
  ]);
  assert.equal(relativeWindow(15 * 60_000), "-900s");
});

Deno.test("the fragment bookmarks the selection and brings a token once", async (t) => {
  await t.step("parsing", () => {
    assert.deepEqual(parseFragment(""), { token: undefined, sensors: null });
    assert.deepEqual(parseFragment("#token=abc.def-_g"), { token: "abc.def-_g", sensors: null });
    const both = parseFragment("#token=abc&sensors=V1,V3");
    assert.equal(both.token, "abc");
    assert.deepEqual([...both.sensors!], ["V1", "V3"]);
    assert.deepEqual([...parseFragment("#sensors=").sensors!], [], "present but empty: none");
    assert.deepEqual([...parseFragment("#sensors=V1,,bad id,V/2,V%2C2").sensors!], [
      "V1",
      "V",
      "2",
    ]);
  });
  await t.step("formatting never carries the token", () => {
    assert.equal(formatFragment(null), "");
    assert.equal(formatFragment(new Set(["V1", "V3"])), "#sensors=V1,V3");
    assert.equal(formatFragment(new Set()), "#sensors=");
    const round = parseFragment(formatFragment(new Set(["V2", "V10"])));
    assert.deepEqual([...round.sensors!], ["V2", "V10"]);
  });
  await t.step("unticking one sensor of all selects the others", () => {
    assert.deepEqual([...toggle(null, ["V1", "V2", "V3"], "V2", false)!], ["V1", "V3"]);
    assert.deepEqual([...toggle(new Set(["V1"]), ["V1", "V2"], "V2", true)!], ["V1", "V2"]);
  });
});

Deno.test("subscriptions exclude what is not shown and never narrow plain 'all'", () => {
  const known = ["V1", "V2", "V3"];
  const first = subscriptionChanges(new Set(["V1"]), known, new Set());
  assert.deepEqual(first.messages, [{ type: "unsubscribe", sensors: ["V2", "V3"] }]);
  const second = subscriptionChanges(new Set(["V1", "V3"]), known, first.excluded);
  assert.deepEqual(second.messages, [{ type: "subscribe", sensors: ["V3"] }]);
  const all = subscriptionChanges(null, known, second.excluded);
  assert.deepEqual(all.messages, [{ type: "subscribe", sensors: ["V2"] }]);
  assert.deepEqual(subscriptionChanges(null, known, all.excluded).messages, [], "nothing to do");
  assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

Deno.test("the request plan fills the charts on load and every gap after", async (t) => {
  await t.step("first load: the window, for all or for the selection", () => {
    const model = new Model();
    assert.deepEqual(new SyncPlan().open(model, null, { serverNow: T0, lastHeard: undefined }), [
      { type: "history", since: "-900s" },
    ]);
    assert.deepEqual(
      new SyncPlan().open(model, new Set(["V1", "V3"]), { serverNow: T0, lastHeard: undefined }),
      [{ type: "history", sensors: ["V1", "V3"], since: "-900s" }],
    );
  });

  await t.step("a reconnect asks per sensor from its newest reading, and for new sensors", () => {
    const model = new Model();
    model.addReading("V1", values(1), iso(T0 - 5_000));
    model.addReading("V2", values(1), iso(T0 - 7_000));
    const plan = new SyncPlan();
    const lastHeard = iso(T0 - 4_000);
    assert.deepEqual(plan.open(model, null, { serverNow: T0, lastHeard }), [
      { type: "history", since: { V1: iso(T0 - 5_000), V2: iso(T0 - 7_000) } },
      { type: "history", since: lastHeard },
    ]);
    assert.equal(plan.answered("V1", false), true, "an incomplete resume is worth a notice");
    assert.equal(plan.answered("V2", true), false);
    assert.deepEqual(plan.update(model, null, T0), [], "nothing more to ask");
  });

  await t.step("what a dropped connection never got is asked for again, from the same time", () => {
    const model = new Model();
    const first = new SyncPlan();
    first.open(model, null, { serverNow: T0, lastHeard: undefined });
    // The connect snapshot came, then the connection dropped before the history replies.
    model.addReading("V1", values(1), iso(T0 - 1_000));
    model.addReading("V2", values(1), iso(T0 - 1_000));
    first.answered("V2", true);
    const carry = first.unanswered(model.ids());
    assert.deepEqual(carry, { V1: "-900s" });
    const lastHeard = iso(T0);
    assert.deepEqual(new SyncPlan().open(model, null, { serverNow: T0, lastHeard, carry }), [
      { type: "history", since: { V1: "-900s", V2: iso(T0 - 1_000) } },
      { type: "history", since: lastHeard },
    ]);
  });

  await t.step("a selection excludes others and fetches what a re-shown sensor missed", () => {
    const model = new Model();
    model.addReading("V1", values(1), iso(T0 - 60_000));
    model.addReading("V2", values(1), iso(T0 - 60_000));
    const plan = new SyncPlan();
    let selection: Set<string> | null = new Set(["V1"]);
    assert.deepEqual(plan.open(model, selection, { serverNow: T0, lastHeard: iso(T0) }), [
      { type: "unsubscribe", sensors: ["V2"] },
      { type: "history", since: { V1: iso(T0 - 60_000) } },
    ]);
    model.addReading("V3", values(1), iso(T0));
    assert.deepEqual(plan.update(model, selection, T0), [{ type: "unsubscribe", sensors: ["V3"] }]);
    selection = null;
    assert.deepEqual(plan.update(model, selection, T0), [
      { type: "subscribe", sensors: ["V2", "V3"] },
      { type: "history", since: { V2: iso(T0 - 60_000), V3: iso(T0) } },
    ]);
    assert.deepEqual(plan.update(model, selection, T0), []);
  });
});

Deno.test("closes: the close table decides, the token's closes are said plainly", async (t) => {
  await t.step("every close of the table is followed as the table says", () => {
    for (const e of Object.values(CLOSES)) {
      const info = describeClose(e.code, e.reason);
      assert.equal(info.retry, e.retry, e.reason);
      assert.match(info.words, /^\S.*\.$/, e.reason);
    }
  });
  await t.step("unknown closes follow their code's class", () => {
    for (
      const [code, reason] of [[1006, ""], [1008, "new"], [1013, "later"], [1011, ""], [4000, ""]]
    ) {
      assert.equal(
        describeClose(code as number, reason as string).retry,
        retryAfter(code as number, reason as string),
      );
    }
  });
  await t.step("an expired token", () => {
    const info = describeClose(1008, "token expired");
    assert.equal(info.words, "The token has expired.");
    assert.equal(info.reason, "token expired");
    assert.equal(info.retry, "stop");
  });
});
