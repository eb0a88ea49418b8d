/** `tail` as a user runs it: history on connect, resuming after a reconnect, stale sensors. */
import assert from "node:assert/strict";
import { runCli } from "../cli/mod.ts";
import { envelopeOf, type ServerMessage } from "../protocol/mod.ts";
import { waitFor, within } from "./_helpers.ts";
import { fakeIo } from "./_tail_io.ts";
import {
  greeting,
  historyReply,
  reading,
  ScriptedServer,
  sendAll,
  timeOf,
} from "./_tail_servers.ts";

const ESC = "\x1b";
/** The last frame the live table drew. */
const lastFrame = (out: string) => out.split(new RegExp(`\r${ESC}\\[\\d+A`)).at(-1)!;
/** What the live screen writes besides colours: cursor shown/hidden, clear line/below. */
const SCREEN_CODES = new RegExp(`${ESC}\\[(\\?25[hl]|K|J)`, "g");
const barsOf = (frame: string, id: string) =>
  frame.split("\n").find((l) => l.startsWith(`${id} `))?.match(/[▁▂▃▄▅▆▇█]+/)?.[0] ?? "";

/**
 * A server whose first connection goes away after readings V1 1–2 and V2 3, and whose second
 * answers the resume with `replies`, then sends V1 9.
 */
function droppingOnce(replies: ServerMessage[]): ScriptedServer {
  return new ScriptedServer((ws, n) => {
    if (n === 1) {
      sendAll(ws, [...greeting(), reading("V1", 1), reading("V1", 2), reading("V2", 3)]);
      ws.close(1001, "server shutting down");
      return;
    }
    sendAll(ws, greeting());
    ws.onmessage = () => sendAll(ws, [...replies, reading("V1", 9)]);
  });
}

Deno.test("tail command and history", async (t) => {
  await t.step("on a terminal, asks for the sparkline width's worth and fills them", async () => {
    await using server = new ScriptedServer((ws) => {
      sendAll(ws, [...greeting(), reading("V1", 12)]);
      // The reply holds the snapshot reading (12) too; it is drawn once.
      ws.onmessage = () => sendAll(ws, [historyReply("V1", [3, 4, 5, 6, 7, 8, 9, 10, 11, 12])]);
    });
    const f = fakeIo({ isTerminal: true, env: { NO_COLOR: "1" } });
    const run = runCli(["tail", "--url", server.url, "--token", "x"], f.io);
    await waitFor(() => barsOf(lastFrame(f.stdout()), "V1").length === 10, 3_000, "10 bars");
    f.controller.abort();
    assert.equal(await within(3_000, run), 0, f.stderr());
    assert.deepEqual(server.received[0], [{ type: "history", limit: 20 }]);
    assert.match(lastFrame(f.stdout()), /^V1 .*52\.0 %/m);
  });

  await t.step("piped, asks for history only with --history", async () => {
    const cases: [string[], unknown[]][] = [
      [[], []],
      [["--history", "5"], [{ type: "history", limit: 5 }]],
    ];
    for (const [extra, expected] of cases) {
      await using server = new ScriptedServer((ws) =>
        sendAll(ws, [...greeting(), reading("V1", 1)])
      );
      const f = fakeIo();
      const args = ["tail", "--url", server.url, "--token", "x", "--count", "1", ...extra];
      assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
      assert.deepEqual(server.received[0], expected, extra.join(" "));
    }
  });

  await t.step("after a reconnect, asks for what it missed and says resumed: N", async () => {
    await using server = droppingOnce([historyReply("V1", [4, 5]), historyReply("V2", [6])]);
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "4", "--format", "line"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.deepEqual(server.received[1], [
      { type: "history", since: { V1: timeOf(2), V2: timeOf(3) } },
    ]);
    assert.match(f.stderr(), /^tail: resumed: 3 readings$/m);
    // The missed readings are printed too, in the order of the replies, oldest first.
    const times = f.stdout().trimEnd().split("\n").map((l) => l.split(" ").slice(0, 2).join(" "));
    assert.deepEqual(times, [
      `${timeOf(1)} V1`,
      `${timeOf(2)} V1`,
      `${timeOf(3)} V2`,
      `${timeOf(4)} V1`,
      `${timeOf(5)} V1`,
      `${timeOf(6)} V2`,
      `${timeOf(9)} V1`,
    ]);
  });

  await t.step("a reply with complete: false prints gap: history incomplete", async () => {
    await using server = droppingOnce([historyReply("V1", [4], false), historyReply("V2", [])]);
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "4", "--json"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.match(f.stderr(), /^tail: gap: history incomplete for V1 \(resumed 1 reading\)$/m);
    assert.doesNotMatch(f.stderr(), /resumed: /);
  });

  await t.step("--json prints the new message types as sent, one per line", async () => {
    const at = new Date(Date.UTC(2025, 11, 6, 14, 31, 0));
    const extra: ServerMessage[] = [
      envelopeOf("sensor_status", {
        sensor_id: "V1",
        status: "stale",
        last_seen: timeOf(1),
      }, at),
      envelopeOf("token_expiring", { expires_at: "2025-12-06T14:32:00.000Z" }, at),
      envelopeOf("token_refreshed", { expires_at: null }, at),
      historyReply("V2", [1, 2], false),
    ];
    await using server = new ScriptedServer((ws) => {
      sendAll(ws, [...greeting(), reading("V1", 1), ...extra, reading("V1", 2)]);
    });
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "2", "--json"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    const lines = f.stdout().trimEnd().split("\n");
    for (const m of extra) assert.ok(lines.includes(JSON.stringify(m)), m.type);
    // A token given as is cannot be renewed: tail says so instead of failing at the expiry.
    assert.match(
      f.stderr(),
      /tail: the token expires at 2025-12-06T14:32:00\.000Z and tail cannot renew/,
    );
  });
});

Deno.test("tail command and stale sensors", async (t) => {
  const lastSeen = () => new Date(Date.now() - 300_000).toISOString();
  const script = (ws: WebSocket) => {
    sendAll(ws, [...greeting(), reading("V1", 1), reading("V2", 2)]);
    sendAll(ws, [envelopeOf("sensor_status", {
      sensor_id: "V2",
      status: "stale",
      last_seen: lastSeen(),
    }, new Date())]);
    sendAll(ws, [reading("V1", 3)]);
  };

  await t.step("the table says stale and the age without colours (NO_COLOR)", async () => {
    await using server = new ScriptedServer(script);
    const f = fakeIo({ isTerminal: true, env: { NO_COLOR: "1" } });
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "3"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    const frame = lastFrame(f.stdout());
    assert.match(frame, /^V2 .* stale 5m /m);
    assert.doesNotMatch(frame, /^V1 .*stale/m);
    assert.ok(!frame.replaceAll(SCREEN_CODES, "").includes(ESC), "no colour codes");
  });

  await t.step("with colours, the stale row is dimmed and still says stale", async () => {
    await using server = new ScriptedServer(script);
    const f = fakeIo({ isTerminal: true });
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "3"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    const row = lastFrame(f.stdout()).split("\n").find((l) => l.includes("V2"))!;
    assert.ok(row.includes(`${ESC}[2m`), "dimmed");
    assert.match(row, /stale 5m/);
  });

  await t.step("--format line says it on stderr", async () => {
    await using server = new ScriptedServer(script);
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "3", "--format", "line"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.match(f.stderr(), /^tail: V2 stale, last heard from 5m ago$/m);
  });
});
