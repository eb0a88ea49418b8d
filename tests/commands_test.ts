import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { BROKER_UNAVAILABLE, type CommandRequest, Commands } from "../server/commands.ts";

function setup() {
  let t = 1_000_000;
  const clock = { now: () => t };
  const commands = new Commands({ intervalMs: 5_000, timeoutMs: 10_000, clock });
  return { commands, advance: (ms: number) => (t += ms) };
}

const req = (over: Partial<CommandRequest> = {}): CommandRequest => ({
  clientId: "c1",
  claims: { sub: "alice", sensors: null, commands: new Set(["irrigate"]) },
  id: "1",
  sensorId: "V1",
  action: "irrigate",
  params: { duration_s: 30 },
  ...over,
});
const reasonOf = (r: ReturnType<Commands["check"]>) => "reason" in r ? r.reason : "sent";
const statuses = (changes: { status: string }[]) => changes.map((c) => c.status);
const sentCommand = (r: ReturnType<Commands["check"]>) => {
  if ("reason" in r) throw new Error(r.reason);
  return r.command;
};

Deno.test("commands are checked in the protocol's order, each with its reason", async (t) => {
  await t.step("no commands claim: not permitted, even for an unknown action", () => {
    const { commands } = setup();
    const claims = { sub: "a", sensors: null, commands: null };
    assertEquals(
      reasonOf(commands.check(req({ claims }), true)),
      'not permitted: your token may not issue "irrigate"',
    );
    assertEquals(
      reasonOf(commands.check(req({ action: "flood" }), false)),
      'not permitted: your token may not issue "flood"',
    );
  });
  await t.step("sensor outside the sensors claim", () => {
    const { commands } = setup();
    const claims = { sub: "a", sensors: new Set(["V2"]), commands: new Set(["irrigate"]) };
    assertEquals(
      reasonOf(commands.check(req({ claims }), true)),
      "not permitted: your token may not see V1",
    );
  });
  await t.step("unknown action the claim lists", () => {
    const { commands } = setup();
    const claims = { sub: "a", sensors: null, commands: new Set(["flood"]) };
    assertEquals(
      reasonOf(commands.check(req({ claims, action: "flood" }), true)),
      'unknown action "flood"; use irrigate',
    );
  });
  await t.step("bad params", () => {
    const { commands } = setup();
    for (const params of [{}, { duration_s: 0 }, { duration_s: 3601 }, { duration_s: 1.5 }]) {
      assertEquals(
        reasonOf(commands.check(req({ params }), true)),
        "invalid params: duration_s must be an integer from 1 to 3600",
      );
    }
    assertEquals(reasonOf(commands.check(req({ params: { duration_s: 3600 } }), true)), "sent");
  });
  await t.step("broker down is checked last, and a refused command does not count", () => {
    const { commands } = setup();
    assertEquals(reasonOf(commands.check(req(), false)), BROKER_UNAVAILABLE);
    assertEquals(reasonOf(commands.check(req(), true)), "sent");
  });
});

Deno.test("one accepted command per sensor per interval, whoever sends it", () => {
  const { commands, advance } = setup();
  assertEquals(reasonOf(commands.check(req(), true)), "sent");
  advance(4_999);
  assertEquals(
    reasonOf(commands.check(req({ clientId: "c2", id: "2" }), true)),
    "rate limited: one command per sensor every 5 s; V1 is free again in 1 s",
  );
  assertEquals(reasonOf(commands.check(req({ id: "3", sensorId: "V2" }), true)), "sent");
  advance(1);
  assertEquals(reasonOf(commands.check(req({ clientId: "c2", id: "2" }), true)), "sent");
});

Deno.test("at most 10 commands a minute per client, which a reconnect does not reset", () => {
  const { commands, advance } = setup();
  for (let i = 0; i < 10; i++) {
    assertEquals(reasonOf(commands.check(req({ id: `${i}`, sensorId: `S${i}` }), true)), "sent");
    advance(1_000);
  }
  assertEquals(
    reasonOf(commands.check(req({ id: "x", sensorId: "S99" }), true)),
    "rate limited: at most 10 commands a minute; try again in 50 s",
  );
  // The same token subject on a new connection is the same client.
  assertEquals(
    reasonOf(commands.check(req({ clientId: "c9", id: "x", sensorId: "S99" }), true)),
    "rate limited: at most 10 commands a minute; try again in 50 s",
  );
  const bob = { sub: "bob", sensors: null, commands: new Set(["irrigate"]) };
  assertEquals(
    reasonOf(commands.check(req({ claims: bob, id: "y", sensorId: "S98" }), true)),
    "sent",
  );
  advance(50_000);
  assertEquals(reasonOf(commands.check(req({ id: "x", sensorId: "S99" }), true)), "sent");
});

Deno.test("a command's life follows the device's acks", async (t) => {
  await t.step("accepted, then done", () => {
    const { commands, advance } = setup();
    const command = sentCommand(commands.check(req(), true));
    assertEquals(commands.published(command)?.status, "sent");
    assertEquals(commands.published(command), undefined, "sent is reported once");
    advance(1_000);
    assertEquals(statuses(commands.ack("V1", { id: "1", status: "accepted" })), ["accepted"]);
    advance(35_000);
    assertEquals(commands.expire(), []);
    const done = commands.ack("V1", { id: "1", status: "done", detail: "ok" });
    assertEquals(done.map((c) => [c.status, c.detail]), [["done", "ok"]]);
    assertEquals(commands.pending, 0);
    assertEquals(commands.ack("V1", { id: "1", status: "done" }), []);
  });
  await t.step("an ack for another sensor or id is ignored", () => {
    const { commands } = setup();
    commands.check(req(), true);
    assertEquals(commands.ack("V2", { id: "1", status: "accepted" }), []);
    assertEquals(commands.ack("V1", { id: "9", status: "failed" }), []);
    assertEquals(
      statuses(commands.ack("V1", { id: "1", status: "failed" })),
      ["sent", "failed"],
      "an ack before the broker's acknowledgement reports sent first",
    );
  });
  await t.step("no ack within the timeout", () => {
    const { commands, advance } = setup();
    commands.check(req(), true);
    advance(9_999);
    assertEquals(commands.expire(), []);
    advance(1);
    assertEquals(commands.expire().map((c) => [c.command.id, c.status]), [["1", "timeout"]]);
    assertEquals(commands.pending, 0);
  });
  await t.step("after accepted, the end may come up to duration plus timeout later", () => {
    const { commands, advance } = setup();
    commands.check(req(), true);
    advance(2_000);
    commands.ack("V1", { id: "1", status: "accepted" });
    advance(39_999);
    assertEquals(commands.expire(), []);
    advance(1);
    assertEquals(commands.expire().map((c) => c.status), ["timeout"]);
  });
});

Deno.test("commands in flight are bounded", () => {
  let t = 0;
  const commands = new Commands({
    intervalMs: 0,
    timeoutMs: 10_000,
    clock: { now: () => t },
    maxPending: 2,
    perClientMinute: 100,
  });
  assertEquals(reasonOf(commands.check(req({ id: "1" }), true)), "sent");
  t += 1;
  assertEquals(
    reasonOf(commands.check(req({ id: "1" }), true)),
    "id 1 is in use on V1; choose another id",
  );
  assertEquals(reasonOf(commands.check(req({ id: "2" }), true)), "sent");
  t += 1;
  assertEquals(reasonOf(commands.check(req({ id: "3" }), true)), "too many commands in flight");
});

Deno.test("a publication that fails ends the command as failed", () => {
  const { commands } = setup();
  const command = sentCommand(commands.check(req(), true));
  const change = commands.publishFailed(command, "could not publish: connection closed");
  assertEquals([change?.status, change?.detail], [
    "failed",
    "could not publish: connection closed",
  ]);
  assertEquals(commands.pending, 0);
  assertEquals(commands.published(command), undefined);
});

Deno.test("commands seen on the topic are followed and hold the sensor's interval", async (t) => {
  const seen = (id: string, params: Record<string, unknown> = { duration_s: 20 }) => ({
    id,
    action: "irrigate" as const,
    params,
    issued_by: "carol",
    issued_at: "2026-11-29T10:00:00Z",
  });
  await t.step("another instance's command: sent, then its acks, and V1 is busy", () => {
    const { commands, advance } = setup();
    const change = commands.observe("V1", seen("a"));
    assertEquals([change?.status, change?.command.sub, change?.command.clientId], [
      "sent",
      "carol",
      undefined,
    ]);
    assertEquals(
      reasonOf(commands.check(req(), true)),
      "rate limited: one command per sensor every 5 s; V1 is free again in 5 s",
    );
    advance(1_000);
    assertEquals(statuses(commands.ack("V1", { id: "a", status: "accepted" })), ["accepted"]);
    advance(29_999);
    assertEquals(commands.expire(), []);
    advance(1);
    assertEquals(statuses(commands.expire()), ["timeout"]);
  });
  await t.step("our own command coming back from the broker is not reported again", () => {
    const { commands } = setup();
    sentCommand(commands.check(req(), true));
    assertEquals(commands.observe("V1", seen("1")), undefined);
  });
  await t.step("bad params and a full table are ignored", () => {
    const { commands } = setup();
    assertEquals(commands.observe("V1", seen("b", { duration_s: 0 })), undefined);
    const small = new Commands({
      intervalMs: 5_000,
      timeoutMs: 10_000,
      clock: { now: () => 0 },
      maxPending: 1,
    });
    assertEquals(small.observe("V1", seen("a"))?.status, "sent");
    assertEquals(small.observe("V2", seen("b")), undefined);
  });
});

Deno.test("the next deadline is the earliest command's", () => {
  const { commands, advance } = setup();
  assertEquals(commands.nextDeadline(), undefined);
  sentCommand(commands.check(req(), true));
  advance(3_000);
  sentCommand(commands.check(req({ id: "2", sensorId: "V2" }), true));
  assertEquals(commands.nextDeadline(), 1_000_000 + 10_000);
  commands.ack("V1", { id: "1", status: "accepted" });
  assertEquals(commands.nextDeadline(), 1_003_000 + 10_000);
});

Deno.test("a repeated accepted changes nothing: the deadline stays where the first set it", () => {
  const { commands, advance } = setup();
  sentCommand(commands.check(req(), true));
  assertEquals(statuses(commands.ack("V1", { id: "1", status: "accepted" })), ["sent", "accepted"]);
  advance(35_000);
  assertEquals(commands.ack("V1", { id: "1", status: "accepted" }), [], "not forwarded again");
  advance(5_000); // 30 s + the 10 s timeout after the first accepted
  assertEquals(statuses(commands.expire()), ["timeout"]);
});

Deno.test("commands seen on the topic never block this server's own", () => {
  let t = 0;
  const commands = new Commands({
    intervalMs: 0,
    timeoutMs: 10_000,
    clock: { now: () => t },
    maxPending: 1,
    maxSeen: 2,
  });
  const seen = (id: string) => ({
    id,
    action: "irrigate" as const,
    params: { duration_s: 5 },
    issued_by: "flood",
    issued_at: "2026-11-29T10:00:00Z",
  });
  assertEquals(commands.observe("A", seen("a"))?.status, "sent");
  assertEquals(commands.observe("B", seen("b"))?.status, "sent");
  assertEquals(commands.observe("C", seen("c")), undefined, "past the cap of seen commands");
  t += 1;
  assertEquals(reasonOf(commands.check(req(), true)), "sent");
  assertEquals(reasonOf(commands.check(req({ id: "2" }), true)), "too many commands in flight");
  assertEquals([...commands.inFlight()].map((c) => c.id), ["a", "b", "1"]);
});
