/** The `tail` table with commands: a station being irrigated, by whom, and how it ended. */
import assert from "node:assert/strict";
import { type CommandEventStatus, envelopeOf } from "../protocol/mod.ts";
import { OUTCOME_SHOWN_MS, RUNNING_CAP_MS } from "../tail/irrigation.ts";
import { TableModel } from "../tail/view.ts";
import { connected, ESC, reading, SGR, T0, URL_SHOWN } from "./_tail_view.ts";

function event(
  status: CommandEventStatus,
  options: { id?: string; by?: string; sensor?: string } = {},
) {
  return envelopeOf("command_event", {
    id: options.id ?? "c-1",
    sensor_id: options.sensor ?? "V1",
    action: "irrigate",
    status,
    issued_by: options.by ?? "alice",
  }, new Date(T0));
}

/** The row of `id`, without colours. */
function rowOf(model: TableModel, id: string, now: number, columns?: number): string | undefined {
  return model.render(now, { color: false, columns }).split("\n").find((l) =>
    l.startsWith(`${id} `)
  );
}

Deno.test("tail's table shows a station being irrigated", async (t) => {
  await t.step("a sent command, then irrigating, with who sent it", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    model.apply(reading("V1"), T0);
    model.apply(reading("V2"), T0);
    assert.doesNotMatch(model.render(T0, { color: false }), /VALVE/, "no column until needed");
    model.apply(event("sent"), T0);
    assert.match(rowOf(model, "V1", T0)!, /45\.2 %.* 0s +irrigation sent \(alice\) +[▁-█]$/);
    model.apply(event("accepted"), T0 + 1_000);
    assert.match(rowOf(model, "V1", T0 + 2_000)!, / 2s +irrigating \(alice\) /);
    const lines = model.render(T0 + 2_000, { color: false }).split("\n");
    assert.match(lines[2]!, /AGE {2}VALVE +MOISTURE TREND$/);
    const v2 = lines.find((l) => l.startsWith("V2 "))!;
    const bar = /[▁-█]/;
    assert.equal(v2.search(bar), rowOf(model, "V1", T0 + 2_000)!.search(bar), "trends line up");
  });

  for (
    const [status, words] of [
      ["done", "irrigated"],
      ["failed", "irrigation failed"],
      ["timeout", "irrigation timed out"],
    ] as const
  ) {
    await t.step(`the outcome (${words}) shows for a while, then the column goes`, () => {
      const model = new TableModel(URL_SHOWN);
      model.apply(reading("V1"), T0);
      model.apply(event("accepted"), T0);
      model.apply(event(status), T0 + 30_000);
      assert.match(rowOf(model, "V1", T0 + 30_000)!, new RegExp(` ${words} \\(alice\\) `));
      assert.doesNotMatch(rowOf(model, "V1", T0 + 30_000)!, /irrigating/);
      const gone = T0 + 30_000 + OUTCOME_SHOWN_MS;
      assert.match(rowOf(model, "V1", gone - 1)!, new RegExp(words));
      assert.doesNotMatch(model.render(gone, { color: false }), /VALVE|irrigat/);
    });
  }

  await t.step("irrigating whose end never comes is dropped after the longest irrigation", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    model.apply(event("accepted"), T0);
    assert.match(rowOf(model, "V1", T0 + RUNNING_CAP_MS - 1)!, /irrigating \(alice\)/);
    assert.doesNotMatch(model.render(T0 + RUNNING_CAP_MS, { color: false }), /irrigating/);
  });

  await t.step("a new connection starts clean: the server does not replay commands", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    model.apply(reading("V1"), T0);
    model.apply(event("accepted"), T0);
    model.setState("reconnecting");
    connected(model);
    assert.doesNotMatch(model.render(T0, { color: false }), /irrigat|VALVE/);
    assert.match(rowOf(model, "V1", T0)!, /45\.2 %/, "the readings stay");
  });

  await t.step("a late start of a command that ended does not reopen the valve", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    model.apply(event("done"), T0);
    model.apply(event("accepted"), T0);
    assert.match(rowOf(model, "V1", T0)!, / irrigated \(alice\)/);
  });

  await t.step("a newer command shows over an older one's outcome, and the other way", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    model.apply(event("accepted", { id: "a", by: "alice" }), T0);
    model.apply(event("accepted", { id: "b", by: "bob" }), T0 + 1_000);
    assert.match(rowOf(model, "V1", T0 + 1_000)!, /irrigating \(bob\)/);
    model.apply(event("done", { id: "b", by: "bob" }), T0 + 2_000);
    assert.match(rowOf(model, "V1", T0 + 2_000)!, /irrigating \(alice\)/, "a is still on");
    model.apply(event("failed", { id: "a", by: "alice" }), T0 + 3_000);
    assert.match(rowOf(model, "V1", T0 + 3_000)!, /irrigation failed \(alice\)/);
  });

  await t.step("a station known only from a command gets a row, with no age", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(event("accepted", { sensor: "V7" }), T0);
    assert.match(rowOf(model, "V7", T0 + 5_000)!, /^V7 +– +– +– +– +– +irrigating \(alice\)/);
    model.apply(reading("V7", {}, T0 + 5_000), T0 + 5_000);
    assert.match(rowOf(model, "V7", T0 + 7_000)!, /45\.2 %.* 2s +irrigating/);
  });

  await t.step("the sender's name is escaped and cut: it is the peer's text", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    model.apply(event("accepted", { by: `\x1b[2J\u202eevil${"x".repeat(100)}` }), T0);
    const row = rowOf(model, "V1", T0)!;
    assert.ok(!row.includes(ESC) && !row.includes("\u202e"), row);
    assert.match(row, /irrigating \(\\x1b\[2J\\u202eevilxxxxxx…\)/);
  });

  await t.step("a refusal of this client's own command shows on a row it has", () => {
    const model = new TableModel(URL_SHOWN);
    model.apply(reading("V1"), T0);
    const status = (sensor: string) =>
      envelopeOf("command_status", {
        id: "mine",
        sensor_id: sensor,
        status: "rejected",
        reason: "rate limited",
      }, new Date(T0));
    model.apply(status("V1"), T0);
    model.apply(status("V9"), T0);
    assert.match(rowOf(model, "V1", T0)!, / irrigation rejected /);
    assert.equal(rowOf(model, "V9", T0), undefined, "no row for a sensor it does not see");
  });

  await t.step("colours only when asked (NO_COLOR), and never wider than the terminal", () => {
    const model = new TableModel(URL_SHOWN);
    connected(model);
    model.apply(reading("V1"), T0);
    model.apply(event("accepted", { by: "a-rather-long-user-name-for-a-narrow-terminal" }), T0);
    const coloured = model.render(T0, { color: true });
    assert.ok(coloured.includes(`${ESC}[1;36mirrigating (`), "irrigating stands out");
    assert.ok(!model.render(T0, { color: false }).includes(ESC));
    for (const color of [false, true]) {
      const plain = model.render(T0, { color, columns: 60 }).replaceAll(SGR, "");
      for (const line of plain.split("\n")) assert.ok(line.length < 60, `too wide: ${line}`);
    }
    assert.match(rowOf(model, "V1", T0, 80)!, /irrigating \(/, "80 columns show who irrigates");
  });
});
