/** The dashboard's command parts, pure: the valves a tile shows, its own commands, the token. */
import assert from "node:assert/strict";
import { commandsOf, newCommandId } from "../dashboard/commands.js";
import {
  myCommandText,
  OUTCOME_MS,
  RUNNING_CAP_MS,
  VALVE_WORDS,
  Valves,
} from "../dashboard/valves.js";
import { mintTestToken } from "./_helpers.ts";

const T0 = Date.parse("2025-12-06T14:00:00.000Z");
type Status = "sent" | "accepted" | "done" | "failed" | "timeout";
const event = (status: Status, o: { id?: string; by?: string; sensor?: string } = {}) => ({
  id: o.id ?? "c-1",
  sensor_id: o.sensor ?? "V1",
  action: "irrigate",
  status,
  issued_by: o.by ?? "alice",
});
/** What V1's tile says of its valve, as the page words it. */
const shown = (valves: Valves, id = "V1") => {
  const v = valves.valve(id);
  return v && `${VALVE_WORDS[v.status]} — by ${v.by}`;
};

Deno.test("a tile's valve follows command_event", async (t) => {
  await t.step("sent, irrigating, then the outcome, with who sent it", () => {
    const valves = new Valves();
    valves.event(event("sent"), T0);
    assert.equal(shown(valves), "irrigation sent — by alice");
    valves.event(event("accepted"), T0);
    assert.equal(shown(valves), "irrigating — by alice");
    valves.event(event("done"), T0 + 30_000);
    assert.equal(shown(valves), "irrigated — by alice");
    assert.deepEqual([...valves.takeChanged()], ["V1"]);
    assert.deepEqual([...valves.takeChanged()], [], "taken");
  });

  await t.step("the outcome shows for a while, then goes", () => {
    const valves = new Valves();
    valves.event(event("failed"), T0);
    valves.takeChanged();
    assert.equal(valves.expire(T0 + OUTCOME_MS - 1), false);
    assert.equal(shown(valves), "irrigation failed — by alice");
    assert.equal(valves.expire(T0 + OUTCOME_MS), true, "the tile changes");
    assert.equal(shown(valves), undefined);
    assert.deepEqual([...valves.takeChanged()], ["V1"]);
  });

  await t.step("irrigating whose end never comes is dropped after the longest irrigation", () => {
    const valves = new Valves();
    valves.event(event("accepted"), T0);
    valves.expire(T0 + RUNNING_CAP_MS - 1);
    assert.equal(shown(valves), "irrigating — by alice");
    valves.expire(T0 + RUNNING_CAP_MS);
    assert.equal(shown(valves), undefined);
  });

  await t.step("a new connection starts clean: the server does not replay commands", () => {
    const valves = new Valves();
    valves.event(event("accepted"), T0);
    valves.takeChanged();
    valves.reconnected();
    assert.equal(shown(valves), undefined);
    assert.deepEqual([...valves.takeChanged()], ["V1"]);
  });

  await t.step("the latest start shows until it ends; older news changes nothing", () => {
    const valves = new Valves();
    valves.event(event("accepted", { id: "a" }), T0);
    valves.event(event("accepted", { id: "b", by: "bob" }), T0);
    valves.event(event("done", { id: "a" }), T0);
    assert.equal(shown(valves), "irrigating — by bob", "a's end does not hide b");
    valves.event(event("timeout", { id: "b", by: "bob" }), T0);
    valves.event(event("accepted", { id: "b", by: "bob" }), T0);
    assert.equal(shown(valves), "irrigation timed out — by bob", "a late start reopens nothing");
  });

  await t.step("what is not a command_event is ignored, and a long name is cut", () => {
    const valves = new Valves();
    for (
      const bad of [
        null,
        "x",
        { ...event("accepted"), sensor_id: "bad id" },
        { ...event("accepted"), status: "toString" },
        { ...event("accepted"), issued_by: 7 },
        { ...event("accepted"), id: undefined },
      ]
    ) valves.event(bad, T0);
    assert.deepEqual([...valves.takeChanged()], []);
    valves.event(event("accepted", { by: "é".repeat(100) }), T0);
    assert.equal(valves.valve("V1")!.by, "é".repeat(63) + "…");
  });
});

Deno.test("the page's own command: what its tile says under Irrigate", async (t) => {
  const text = (valves: Valves) => {
    const mine = valves.mine("V1");
    return mine && myCommandText(mine);
  };
  const status = (s: string, more: Record<string, string> = {}) => ({
    id: "mine",
    sensor_id: "V1",
    status: s,
    ...more,
  });

  await t.step("sending, sent, irrigating for the duration asked, done", () => {
    const valves = new Valves();
    valves.sending("V1", "mine", 30);
    assert.equal(text(valves), "Sending…");
    valves.status(status("sent"));
    assert.equal(text(valves), "Sent; waiting for the valve…");
    valves.status(status("accepted"));
    assert.equal(text(valves), "Irrigating for 30 s.");
    valves.status(status("done"));
    assert.equal(text(valves), "Done.");
    valves.status(status("failed"));
    assert.equal(text(valves), "Done.", "an ended command stays ended");
  });

  await t.step("a refusal says why, a failure what the device said", () => {
    const valves = new Valves();
    valves.sending("V1", "mine", 30);
    valves.status(status("rejected", { reason: "rate limited: at most 10 commands a minute" }));
    assert.equal(text(valves), "Rejected: rate limited: at most 10 commands a minute");
    valves.sending("V1", "next", 5);
    valves.status({ ...status("failed", { detail: "valve stuck" }), id: "next" });
    assert.equal(text(valves), "Failed: valve stuck");
  });

  await t.step("statuses of another command, or of another sensor, change nothing", () => {
    const valves = new Valves();
    valves.sending("V1", "mine", 30);
    valves.status({ ...status("accepted"), id: "old" });
    valves.status({ ...status("accepted"), sensor_id: "V2" });
    valves.status(status("bogus"));
    valves.status(null);
    assert.equal(text(valves), "Sending…");
    assert.equal(valves.mine("V2"), undefined);
  });

  await t.step("without a connection it is not sent; a lost one leaves it unknown", () => {
    const valves = new Valves();
    valves.sending("V1", "mine", 30);
    valves.unsent("V1");
    assert.equal(text(valves), "Not sent: not connected.");
    valves.sending("V1", "again", 30);
    valves.status({ ...status("accepted"), id: "again" });
    valves.reconnected();
    assert.equal(text(valves), "Outcome unknown: the connection was lost.");
    valves.status({ ...status("done"), id: "again" });
    assert.equal(text(valves), "Outcome unknown: the connection was lost.");
  });
});

Deno.test("the page offers commands the token claims", async (t) => {
  await t.step("the commands claim, read from the JWT payload", async () => {
    assert.deepEqual([...commandsOf(await mintTestToken({ commands: ["irrigate"] }))], [
      "irrigate",
    ]);
    assert.deepEqual([...commandsOf(await mintTestToken())], []);
    assert.deepEqual([...commandsOf(await mintTestToken({ commands: "irrigate" }))], []);
    // base64url with - and _ and no padding, and a name beyond ASCII.
    assert.deepEqual(
      [...commandsOf(await mintTestToken({ commands: ["irrigate", 7] }, { sub: "ü>?~" }))],
      ["irrigate"],
    );
  });

  await t.step("a token it cannot read claims nothing", () => {
    for (const token of [undefined, "", "a.b.c", "a.%%%.c", `a.${btoa("[1]")}.c`, "a.bnVsbA.c"]) {
      assert.deepEqual([...commandsOf(token)], [], String(token));
    }
  });

  await t.step("command ids are 16 hex digits, and differ", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newCommandId()));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
  });
});
