/** The life of one sent command, as its sender follows it: pure, no sockets or timers. */
import assert from "node:assert/strict";
import { envelopeOf, type ServerMessage } from "../protocol/mod.ts";
import {
  CommandLife,
  type CommandStatusData,
  formatStatus,
  randomCommandId,
} from "../tail/command_life.ts";

const AT = new Date(Date.UTC(2025, 11, 6, 14, 30, 0));

function status(
  s: CommandStatusData["status"],
  more: Partial<CommandStatusData> = {},
): ServerMessage {
  return envelopeOf("command_status", { id: "c1", sensor_id: "V1", status: s, ...more }, AT);
}

const patience = { answerMs: 10_000, runsMs: 30_000, marginMs: 60_000 };

Deno.test("command life", async (t) => {
  await t.step("moves forward through sent, accepted and done", () => {
    const life = new CommandLife("c1", "V1");
    assert.equal(life.take(status("sent")), true);
    assert.equal(life.take(status("accepted")), true);
    assert.equal(life.final, undefined);
    assert.equal(life.take(status("done")), true);
    assert.equal(life.final, "done");
  });

  await t.step("ignores repeats, steps back, other commands and other messages", () => {
    const life = new CommandLife("c1", "V1");
    assert.equal(life.take(status("accepted")), true);
    assert.equal(life.take(status("accepted")), false);
    assert.equal(life.take(status("sent")), false);
    assert.equal(life.take(status("done", { id: "c2" })), false);
    assert.equal(life.take(status("done", { sensor_id: "V2" })), false);
    assert.equal(life.take(envelopeOf("pong", {}, AT)), false);
    assert.equal(life.last, "accepted");
  });

  await t.step("nothing after a final state counts", () => {
    const life = new CommandLife("c1", "V1");
    assert.equal(life.take(status("rejected", { reason: "broker unavailable" })), true);
    assert.equal(life.final, "rejected");
    assert.equal(life.take(status("sent")), false);
    assert.equal(life.take(status("done")), false);
    assert.equal(life.final, "rejected");
  });

  await t.step("waits for the answer, then the margin, then the run time and the margin", () => {
    const life = new CommandLife("c1", "V1");
    assert.equal(life.patienceMs(patience), 10_000);
    life.take(status("sent"));
    assert.equal(life.patienceMs(patience), 60_000);
    life.take(status("accepted"));
    assert.equal(life.patienceMs(patience), 90_000);
  });

  await t.step("says what it waited for when the server goes silent", () => {
    const life = new CommandLife("c1", "V1");
    assert.match(life.silence(10_000), /no answer to the command within 10s/);
    life.take(status("accepted"));
    assert.equal(life.silence(90_000), "no word from the server within 90s after 'accepted'");
  });
});

Deno.test("a state is one line: the status, then the reason or the device's detail", () => {
  const data = (s: CommandStatusData["status"], more: Partial<CommandStatusData> = {}) => ({
    id: "c1",
    sensor_id: "V1",
    status: s,
    ...more,
  });
  assert.equal(formatStatus(data("sent")), "sent");
  assert.equal(
    formatStatus(data("rejected", { reason: "not permitted: no" })),
    "rejected: not permitted: no",
  );
  assert.equal(formatStatus(data("done", { detail: "watered 30 s" })), "done: watered 30 s");
  assert.equal(
    formatStatus(data("failed", { detail: "\x1b[2Jvalve\nstuck\u202e" })),
    "failed: \\x1b[2Jvalve\\nstuck\\u202e",
  );
  const long = formatStatus(data("done", { detail: "x".repeat(1_000) }));
  assert.ok(long.length < 300 && long.endsWith("…"), "a long detail is clipped");
});

Deno.test("a random command id is 8 hex digits", () => {
  assert.equal(randomCommandId((b) => b.fill(0xab)), "abababab");
  assert.match(randomCommandId(), /^[0-9a-f]{8}$/);
});
