/**
 * The command client (`runCommand`): what it sends, which states it passes on, and how each
 * ending comes out. Scripted servers play the odd cases; the real server with a real
 * Mosquitto and a device played over MQTT plays the whole way.
 */
import assert from "node:assert/strict";
import { envelopeOf } from "../protocol/mod.ts";
import {
  type CommandMessage,
  type CommandOptions,
  type CommandOutcome,
  runCommand,
} from "../tail/command.ts";
import { TailError } from "../tail/errors.ts";
import { freePort, mintTestToken, startMosquitto, within } from "./_helpers.ts";
import { startTestServer } from "./_server.ts";
import { AT, commandServer, ScriptedServer, status } from "./_command_servers.ts";
import { startDevice } from "./_device.ts";

function options(url: string, more: Partial<CommandOptions> = {}): CommandOptions {
  return {
    url,
    token: "t0ken",
    command: { id: "c1", sensorId: "V1", action: "irrigate", params: { duration_s: 1 } },
    runsMs: 1_000,
    connectTimeoutMs: 2_000,
    ...more,
  };
}

/** Runs the client (bounded), collecting what it passes on. */
async function run(
  opts: CommandOptions,
): Promise<{ outcome: CommandOutcome; seen: CommandMessage[] }> {
  const seen: CommandMessage[] = [];
  const outcome = await within(5_000, runCommand(opts, { onMessage: (m) => seen.push(m) }));
  return { outcome, seen };
}

Deno.test("command client against scripted servers", async (t) => {
  await t.step("sends the command once admitted, with the token in the header", async () => {
    await using server = commandServer((id) => [status(id, "sent"), status(id, "done")]);
    const url = `${server.url}?token=from-url`;
    const { outcome } = await run(options(url, { token: "header-token" }));
    assert.deepEqual(outcome, { kind: "ended", status: "done" });
    assert.deepEqual(server.received[0], [{
      type: "command",
      id: "c1",
      sensor_id: "V1",
      action: "irrigate",
      params: { duration_s: 1 },
    }]);
    assert.deepEqual(server.bearers, ["header-token"]);
    assert.equal(server.requests[0]?.searchParams.has("token"), false, "no token in the URL");
    assert.equal(server.requests[0]?.searchParams.get("sensors"), "V1");
  });

  await t.step("passes on each new state once, and ignores other commands", async () => {
    await using server = commandServer((id) => [
      status(id, "sent"),
      status(id, "sent"),
      status("other", "failed"),
      envelopeOf("command_event", {
        id,
        sensor_id: "V1",
        action: "irrigate",
        status: "sent",
        issued_by: "x",
      }, AT),
      status(id, "accepted"),
      status(id, "failed", { detail: "valve stuck" }),
      status(id, "done"),
    ]);
    const { outcome, seen } = await run(options(server.url));
    assert.deepEqual(outcome, { kind: "ended", status: "failed" });
    assert.deepEqual(
      seen.map((m) => m.type === "command_status" ? m.data.status : m.type),
      ["sent", "accepted", "failed"],
    );
    assert.deepEqual(seen[2], status("c1", "failed", { detail: "valve stuck" }));
  });

  await t.step("a rejection ends it", async () => {
    await using server = commandServer((id) => [
      status(id, "rejected", { reason: "broker unavailable" }),
    ]);
    const { outcome, seen } = await run(options(server.url));
    assert.deepEqual(outcome, { kind: "ended", status: "rejected", reason: "broker unavailable" });
    assert.equal(seen.length, 1);
  });

  await t.step("an error reply (a server that does not know commands) rejects", async () => {
    await using server = commandServer(() => [
      envelopeOf("error", { code: "unknown_type", message: 'unknown message type "command"' }, AT),
    ]);
    const seen: CommandMessage[] = [];
    const error = await within(
      5_000,
      runCommand(options(server.url), { onMessage: (m) => seen.push(m) }).then(
        () => assert.fail("resolved"),
        (e: unknown) => e,
      ),
    );
    assert.ok(error instanceof TailError && error.kind === "refused", String(error));
    assert.equal(
      error.message,
      'The server refused the command: unknown_type: unknown message type "command"',
    );
    assert.deepEqual(seen.map((m) => m.type), ["error"]);
  });

  await t.step(
    "a server that says nothing to the command: unknown, after the answer time",
    async () => {
      await using server = commandServer(() => []);
      const { outcome, seen } = await run(options(server.url, { connectTimeoutMs: 300 }));
      assert.equal(outcome.kind, "unknown");
      assert.match((outcome as { why: string }).why, /no answer to the command within 0\.3s/);
      assert.deepEqual(seen, []);
    },
  );

  await t.step("silence after accepted past run time and margin: unknown", async () => {
    await using server = commandServer((id) => [status(id, "sent"), status(id, "accepted")]);
    const { outcome } = await run(options(server.url, { runsMs: 100, marginMs: 200 }));
    assert.deepEqual(outcome, {
      kind: "unknown",
      last: "accepted",
      why: "no word from the server within 0.3s after 'accepted'",
    });
  });

  await t.step("a connection lost after sent: unknown, with the close in words", async () => {
    await using server = commandServer((id, ws) => {
      setTimeout(() => ws.close(1001, "server shutting down"), 20);
      return [status(id, "sent")];
    });
    const { outcome } = await run(options(server.url));
    assert.deepEqual(outcome, {
      kind: "unknown",
      last: "sent",
      why: "connection lost: 1001 server shutting down",
    });
  });

  await t.step("aborting after sent: aborted, sent", async () => {
    const controller = new AbortController();
    await using server = commandServer((id) => {
      setTimeout(() => controller.abort(), 20);
      return [status(id, "sent")];
    });
    const { outcome } = await run(options(server.url, { signal: controller.signal }));
    assert.deepEqual(outcome, { kind: "aborted", sent: true, last: "sent" });
  });

  await t.step("a refused token before admission rejects with auth and the reason", async () => {
    await using server = new ScriptedServer((ws) => ws.close(1008, "invalid token"));
    const error = await within(5_000, runCommand(options(server.url), { onMessage() {} }))
      .then(() => assert.fail("resolved"), (e: unknown) => e);
    assert.ok(error instanceof TailError && error.kind === "auth", String(error));
    assert.match(error.message, /^Server closed the connection: invalid token \(/);
    assert.equal(server.received[0]?.length, 0, "the command was never sent");
  });

  await t.step("nobody listening: unreachable, in words", async () => {
    const url = `ws://127.0.0.1:${freePort()}/ws/sensors`;
    const error = await within(5_000, runCommand(options(url), { onMessage() {} }))
      .then(() => assert.fail("resolved"), (e: unknown) => e);
    assert.ok(error instanceof TailError && error.kind === "unreachable", String(error));
    assert.equal(
      error.message,
      `Cannot connect to ${url}: connection refused. Is \`sensorstream serve\` running?`,
    );
  });
});

Deno.test("command client against the real server: a device that waters, then says done", async () => {
  await using broker = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: broker.url } });
  await using device = await startDevice(broker.url, () => [
    { status: "accepted" },
    { status: "done", detail: "watered 1 s" },
  ]);
  const token = await mintTestToken({ commands: ["irrigate"] }, { sub: "alice" });
  const seen: CommandMessage[] = [];
  const outcome = await within(
    10_000,
    runCommand(options(server.wsUrl, { token }), { onMessage: (m) => seen.push(m) }),
  );
  assert.deepEqual(outcome, { kind: "ended", status: "done" });
  assert.deepEqual(
    seen.map((m) => m.type === "command_status" ? [m.data.status, m.data.detail] : m.type),
    [["sent", undefined], ["accepted", undefined], ["done", "watered 1 s"]],
  );
  assert.equal(device.received.length, 1);
  assert.deepEqual(
    { ...device.received[0]?.command, issued_at: undefined },
    {
      id: "c1",
      action: "irrigate",
      params: { duration_s: 1 },
      issued_by: "alice",
      issued_at: undefined,
    },
  );
});
