/**
 * What `tail` prints of commands, in each format: a line per change, NDJSON as sent, the table;
 * and, against the real server with a device played by an MQTT client, what a user sees.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { runCli } from "../cli/mod.ts";
import { type CommandEventStatus, envelopeOf, type ServerMessage } from "../protocol/mod.ts";
import { createOutput, type OutputFormat } from "../tail/output.ts";
import { formatCommandEvent, formatCommandStatus } from "../tail/format.ts";
import { startDevice } from "./_device.ts";
import { mintTestToken, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";
import { fakeIo } from "./_tail_io.ts";
import { ESC, T0 } from "./_tail_view.ts";

/** A colour code; not global like `SGR`, whose `lastIndex` would carry over between checks. */
const COLOUR = new RegExp(`${ESC}\\[[0-9;]*m`);

function event(status: CommandEventStatus, by = "alice") {
  return envelopeOf("command_event", {
    id: "c-1",
    sensor_id: "V1",
    action: "irrigate",
    status,
    issued_by: by,
  }, new Date(T0));
}

/** Runs an output of `format` over `messages` (as the server sent them) and returns what it wrote. */
function run(format: OutputFormat, messages: ServerMessage[], color = false) {
  let stdout = "";
  let stderr = "";
  const output = createOutput({
    format,
    stdout: (text) => stdout += text,
    stderr: (text) => stderr += text,
    url: "ws://localhost:8000/ws/sensors",
    color,
    columns: () => 120,
    rows: () => 20,
    now: () => T0 + 1_000,
  });
  try {
    for (const msg of messages) output.onMessage(msg, JSON.stringify(msg));
  } finally {
    output.close();
  }
  return { stdout, stderr };
}

Deno.test("tail --format line prints a line per change of a command", async (t) => {
  await t.step("who irrigates where, and how it ended, on stdout with the readings", () => {
    const { stdout, stderr } = run("line", [event("sent"), event("accepted"), event("done")]);
    assert.equal(
      stdout,
      "2025-12-06T14:30:00.000Z V1 irrigation sent by=alice command=c-1\n" +
        "2025-12-06T14:30:00.000Z V1 irrigating by=alice command=c-1\n" +
        "2025-12-06T14:30:00.000Z V1 irrigated by=alice command=c-1\n",
    );
    assert.equal(stderr, "");
  });

  await t.step("failed and timed out say so", () => {
    assert.match(formatCommandEvent(event("failed")), / V1 irrigation failed by=alice /);
    assert.match(formatCommandEvent(event("timeout")), / V1 irrigation timed out by=alice /);
  });

  await t.step("a command_status (to the client that sent it) with its reason or detail", () => {
    const status = (data: Partial<Extract<ServerMessage, { type: "command_status" }>["data"]>) =>
      envelopeOf("command_status", {
        id: "c-1",
        sensor_id: "V1",
        status: "rejected",
        ...data,
      }, new Date(T0));
    assert.equal(
      formatCommandStatus(status({ reason: "rate limited: V1 had a command less than 4 s ago" })),
      "2025-12-06T14:30:00.000Z V1 command=c-1 rejected " +
        "reason=rate limited: V1 had a command less than 4 s ago",
    );
    assert.equal(
      formatCommandStatus(status({ status: "failed", detail: "valve stuck" })),
      "2025-12-06T14:30:00.000Z V1 command=c-1 failed detail=valve stuck",
    );
    const { stdout } = run("line", [status({ status: "done" })]);
    assert.equal(stdout, "2025-12-06T14:30:00.000Z V1 command=c-1 done\n");
  });

  await t.step("control characters in the peer's text are shown, not obeyed", () => {
    const { stdout } = run("line", [
      event("accepted", "eve\x1b]0;owned\x07\nV2 irrigated"),
      envelopeOf("command_status", {
        id: "c-1",
        sensor_id: "V1",
        status: "failed",
        detail: "\x9b2J\u202e",
      }, new Date(T0)),
    ]);
    assert.ok(!stdout.includes(ESC) && !stdout.includes("\x9b") && !stdout.includes("\u202e"));
    assert.equal(stdout.split("\n").length, 3, "one line each");
    assert.match(stdout, /by=eve\\x1b\]0;owned\\x07\\nV2 irrigated command=c-1/);
    assert.match(stdout, /detail=\\x9b2J\\u202e\n$/);
  });
});

Deno.test("tail --json passes command messages through as sent", () => {
  const status = envelopeOf("command_status", {
    id: "c-1",
    sensor_id: "V1",
    status: "rejected",
    reason: "broker unavailable",
  }, new Date(T0));
  const messages = [event("accepted"), status];
  const { stdout } = run("json", messages);
  assert.deepEqual(stdout.trimEnd().split("\n").map((l) => JSON.parse(l)), messages);
});

Deno.test("tail's table output shows irrigating, and no colours with NO_COLOR", () => {
  const plain = run("table", [event("accepted")]).stdout;
  assert.match(plain, /^V1 +– +– +– +– +– +irrigating \(alice\)/m);
  // Only the screen's own cursor moves and clears: no colours.
  assert.doesNotMatch(plain, COLOUR);
  const coloured = run("table", [event("accepted")], true).stdout;
  assert.ok(coloured.includes(`${ESC}[1;36mirrigating (alice)${ESC}[0m`));
});

Deno.test("tail follows an irrigation sent by someone else, against the real server", async () => {
  await using server = await startTestServer();
  await using device = await startDevice(server.mqttUrl);
  const viewer = await mintTestToken({}, { sub: "viewer" });
  const line = fakeIo();
  const table = fakeIo({ isTerminal: true, env: { NO_COLOR: "1" }, rows: 20 });
  const json = fakeIo();
  const ios = [line, table, json];
  const runs = [
    runCli(["tail", "--url", server.wsUrl, "--token", viewer, "--format", "line"], line.io),
    runCli(["tail", "--url", server.wsUrl, "--token", viewer], table.io),
    runCli(["tail", "--url", server.wsUrl, "--token", viewer, "--json"], json.io),
  ];
  try {
    await using alice = await connectClient(server, {
      token: await mintTestToken({ commands: ["irrigate"] }, { sub: "alice" }),
    });
    await alice.until((m) =>
      m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
    );
    await waitFor(
      () =>
        line.stderr().includes("tail: connected") && table.stdout().includes("connected") &&
        json.stdout().includes('"connection_status"'),
      3_000,
      "the tails connected",
    );
    const publisher = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0 });
    try {
      await publisher.publishAsync("sensors/V1/data", JSON.stringify(payload()), { qos: 1 });
    } finally {
      await publisher.endAsync();
    }
    await waitFor(() => line.stdout().includes(" V1 moisture="), 3_000, "a reading in tail");
    alice.send({
      type: "command",
      id: "c-9",
      sensor_id: "V1",
      action: "irrigate",
      params: { duration_s: 30 },
    });
    await waitFor(() => device.received.length === 1, 3_000, "the command at the device");
    await device.ack("V1", { id: "c-9", status: "accepted" });
    await waitFor(() => table.stdout().includes("irrigating (alice)"), 3_000, "irrigating");
    await device.ack("V1", { id: "c-9", status: "done" });
    await waitFor(() => table.stdout().includes("irrigated (alice)"), 3_000, "irrigated");
    await waitFor(() => line.stdout().includes(" V1 irrigated by=alice"), 3_000, "the line");
    await waitFor(() => json.stdout().includes('"status":"done"'), 3_000, "the JSON line");
  } finally {
    for (const f of ios) f.controller.abort();
    const stderr = ios.map((f) => f.stderr()).join("");
    assert.deepEqual(await Promise.all(runs), [0, 0, 0], stderr);
  }
  const sent = json.stdout().trimEnd().split("\n").map((l) => JSON.parse(l))
    .filter((m) => m.type === "command_event");
  assert.deepEqual(sent.map((m) => [m.data.id, m.data.status, m.data.issued_by]), [
    ["c-9", "sent", "alice"],
    ["c-9", "accepted", "alice"],
    ["c-9", "done", "alice"],
  ]);
  const events = line.stdout().split("\n").filter((l) => l.includes("command=c-9"));
  assert.deepEqual(events.map((l) => l.replace(/^\S+ /, "")), [
    "V1 irrigation sent by=alice command=c-9",
    "V1 irrigating by=alice command=c-9",
    "V1 irrigated by=alice command=c-9",
  ]);
  assert.match(table.stdout(), /^V1 .*45\.2 %.* irrigating \(alice\) /m);
  assert.doesNotMatch(table.stdout(), COLOUR, "NO_COLOR: no colour codes");
});
