import assert from "node:assert/strict";
import { jwtVerify } from "jose";
import { runCli } from "../cli/mod.ts";
import { envelopeOf, ServerMessageSchema } from "../protocol/mod.ts";
import { freePort, TEST_SECRET, waitFor, within } from "./_helpers.ts";
import { greeting, reading, ScriptedServer, sendAll } from "./_tail_servers.ts";
import { fakeIo } from "./_tail_io.ts";

/** What the live screen writes to move up over the previous frame. */
const CURSOR_UP = new RegExp(`\r${"\x1b"}\\[(\\d+)A`, "g");

const fiveReadings = [...greeting(), ...[1, 2, 3, 4, 5].map((n) => reading(`V${n}`, n))];

Deno.test("tail command", async (t) => {
  await t.step("piped, prints each server message as one JSON line until --count", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, fiveReadings));
    const f = fakeIo();
    const code = await within(
      5_000,
      runCli(["tail", "--url", server.url, "--token", "x", "--count", "3"], f.io),
    );
    assert.equal(code, 0, f.stderr());
    const lines = f.stdout().trimEnd().split("\n");
    const messages = lines.map((l) => ServerMessageSchema.parse(JSON.parse(l)));
    assert.deepEqual(messages.map((m) => m.type), [
      "connection_status",
      "bridge_status",
      "sensor_reading",
      "sensor_reading",
      "sensor_reading",
    ]);
    assert.equal(lines[2], JSON.stringify(fiveReadings[2]));
  });

  await t.step("--format line prints one human line per reading", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, fiveReadings));
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "2", "--format", "line"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.equal(
      f.stdout(),
      "2025-12-06T14:30:01.000Z V1 moisture=41.0% temperature=22.1°C humidity=65.5% light=800lx\n" +
        "2025-12-06T14:30:02.000Z V2 moisture=42.0% temperature=22.1°C humidity=65.5% light=800lx\n",
    );
  });

  await t.step("on a terminal, draws the table and shows the cursor again at the end", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, fiveReadings));
    const f = fakeIo({ isTerminal: true, env: { NO_COLOR: "1" } });
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "5"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    const out = f.stdout();
    assert.ok(out.includes("\x1b[?25l"), "cursor hidden while drawing");
    assert.ok(out.trimEnd().endsWith("\x1b[?25h"), "cursor shown again at the end");
    for (const id of ["V1", "V5"]) assert.match(out, new RegExp(`${id}\\s+4\\d\\.0 %`));
    const sgr = new RegExp(String.fromCharCode(27) + "\\[\\d+(;\\d+)*m");
    assert.doesNotMatch(out, sgr, "NO_COLOR: no colour codes");
  });

  await t.step("--sensors is passed to the server", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V3", 1)]));
    const f = fakeIo();
    const args = [
      "tail",
      "--url",
      server.url,
      "--token",
      "x",
      "--sensors",
      "V1,V3",
      "--count",
      "1",
    ];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.equal(server.requests[0]?.searchParams.get("sensors"), "V1,V3");
  });

  await t.step("takes the token from SENSORSTREAM_TOKEN", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]));
    const f = fakeIo({ env: { SENSORSTREAM_TOKEN: "from-env" } });
    assert.equal(await runCli(["tail", "--url", server.url, "--count", "1"], f.io), 0);
    assert.deepEqual(server.bearers, ["from-env"]);
  });

  await t.step("takes a ?token= in --url out of the URL and sends it as a header", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]));
    const f = fakeIo({ env: { SENSORSTREAM_TOKEN: "from-env" } });
    const args = ["tail", "--url", `${server.url}?token=from-url`, "--count", "1"];
    assert.equal(await runCli(args, f.io), 0, f.stderr());
    assert.deepEqual(server.bearers, ["from-url"]);
    assert.equal(server.requests[0]?.searchParams.has("token"), false);
    assert.ok(!f.stderr().includes("from-url"));
  });

  await t.step("with JWT_SECRET, mints a token the server can verify", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]));
    const f = fakeIo({ env: { JWT_SECRET: TEST_SECRET } });
    assert.equal(await runCli(["tail", "--url", server.url, "--count", "1"], f.io), 0);
    const token = server.bearers[0] ?? "";
    const { payload } = await jwtVerify(token, new TextEncoder().encode(TEST_SECRET));
    assert.equal(payload.sub, "tail");
  });

  await t.step("a refused token exits 1 with the server's reason", async () => {
    await using server = new ScriptedServer((ws) => ws.close(1008, "token expired"));
    const f = fakeIo();
    assert.equal(await runCli(["tail", "--url", server.url, "--token", "old"], f.io), 1);
    assert.match(f.stderr(), /error: Server closed the connection: token expired/);
  });

  await t.step("an unreachable server exits 1 after --connect-timeout", async () => {
    const url = `ws://127.0.0.1:${freePort()}/ws/sensors`;
    const f = fakeIo();
    const args = ["tail", "--url", url, "--token", "x", "--connect-timeout", "300ms"];
    assert.equal(await within(5_000, runCli(args, f.io)), 1);
    assert.match(
      f.stderr(),
      new RegExp(
        `Cannot connect to ${url}: connection refused\\. Is \`sensorstream serve\` running\\?`,
      ),
    );
  });

  await t.step("Ctrl-C stops it with exit code 0", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, fiveReadings));
    const f = fakeIo();
    const run = runCli(["tail", "--url", server.url, "--token", "x"], f.io);
    await waitFor(() => f.stdout().includes("sensor_reading"), 3_000, "a reading");
    f.controller.abort();
    assert.equal(await within(3_000, run), 0);
  });

  await t.step("no token and no secret exits 2 and says how to get one", async () => {
    const f = fakeIo();
    assert.equal(await runCli(["tail"], f.io), 2);
    assert.match(f.stderr(), /sensorstream token --sub me/);
    assert.match(f.stderr(), /JWT_SECRET/);
  });

  await t.step("bad flags exit 2", async () => {
    for (
      const args of [
        ["tail", "--bogus"],
        ["tail", "--token", "x", "--count", "0"],
        ["tail", "--token", "x", "--format", "xml"],
        ["tail", "--token", "x", "--sensors", "V 1"],
        ["tail", "--token", "x", "--url", "ftp://example.org/"],
        ["tail", "--jwt-secret", "short"],
      ]
    ) {
      const f = fakeIo();
      assert.equal(await runCli(args, f.io), 2, args.join(" "));
      assert.notEqual(f.stderr(), "", args.join(" "));
    }
  });

  await t.step("--help lists the options with examples", async () => {
    const f = fakeIo();
    assert.equal(await runCli(["tail", "--help"], f.io), 0);
    for (const flag of ["--url", "--token", "--sensors", "--format", "--count", "Examples:"]) {
      assert.ok(f.stdout().includes(flag), flag);
    }
  });

  await t.step("a 1013 from the server is retried, and said in words", async () => {
    await using server = new ScriptedServer((ws, n) => {
      if (n === 1) ws.close(1013, "auth unavailable");
      else sendAll(ws, fiveReadings);
    });
    const f = fakeIo();
    const args = ["tail", "--url", server.url, "--token", "x", "--count", "1"];
    assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
    assert.match(f.stderr(), /^tail: 1013 auth unavailable; retrying in \d+\.\ds$/m);
  });

  await t.step(
    "on a small terminal, the table fits and says how many sensors are left out",
    async () => {
      const many = [
        ...greeting(),
        ...Array.from({ length: 12 }, (_, i) => reading(`V${i + 1}`, i)),
      ];
      await using server = new ScriptedServer((ws) => sendAll(ws, many));
      const f = fakeIo({ isTerminal: true, rows: 8, env: { NO_COLOR: "1" } });
      const args = ["tail", "--url", server.url, "--token", "x", "--count", "12"];
      assert.equal(await within(5_000, runCli(args, f.io)), 0, f.stderr());
      // Each redraw moves the cursor up over the frame before: never more than the screen.
      const ups = [...f.stdout().matchAll(CURSOR_UP)].map((m) => Number(m[1]));
      assert.ok(ups.length > 0 && ups.every((n) => n <= 7), `cursor moves: ${ups}`);
      const last = f.stdout().split(CURSOR_UP).at(-1)!;
      assert.match(last, /\+8 more/);
    },
  );
});

/** Clears the screen, rings the bell, opens a C1 CSI and flips the text direction. */
const HOSTILE = "\x1b[2J\x07\u009b31m\u202eevil";
// deno-lint-ignore no-control-regex
const RAW_SERVER_CONTROL = /\x1b\[2J|[\x07\u009b\u202e]/;

Deno.test("tail prints no raw control characters from the server", async (t) => {
  const at = new Date(Date.UTC(2025, 11, 6, 14, 29, 0));
  const error = envelopeOf("error", { code: "bad_json", message: HOSTILE }, at);
  const unknown = { type: `news${HOSTILE}`, data: { text: HOSTILE }, timestamp: at.toISOString() };
  const script = (ws: WebSocket, n: number) => {
    if (n === 1) {
      sendAll(ws, [...greeting(), error, reading("V1", 1)]);
      ws.send(JSON.stringify(unknown));
      ws.send(`not json ${HOSTILE}`);
      ws.close(1011, HOSTILE);
    } else ws.close(1008, HOSTILE);
  };
  const formats = [
    ["--format", "table"],
    ["--format", "line"],
    ["--json"],
  ];
  for (const format of formats) {
    await t.step(format.join(" "), async () => {
      await using server = new ScriptedServer(script);
      const f = fakeIo({ isTerminal: format[1] === "table", env: { NO_COLOR: "1" } });
      const args = ["tail", "--url", server.url, "--token", "x", ...format];
      assert.equal(await within(5_000, runCli(args, f.io)), 1, "the 1008 ends the run");
      for (const [name, text] of [["stdout", f.stdout()], ["stderr", f.stderr()]]) {
        assert.doesNotMatch(text!, RAW_SERVER_CONTROL, `raw control in ${name}`);
      }
      if (format[1] !== "table") assert.ok(!f.stdout().includes("\x1b"), "no ESC at all");
      assert.ok(!f.stderr().includes("\x1b"), "no ESC on stderr at all");
      // The user still sees what the server said, escaped.
      if (format[0] !== "--json") {
        assert.match(f.stderr(), /server error bad_json: \\x1b\[2J\\x07\\x9b31m\\u202eevil/);
      }
      assert.match(f.stderr(), /connection lost: 1011 \\x1b\[2J/);
      assert.match(f.stderr(), /error: Server closed the connection: \\x1b\[2J/);
      if (format[0] === "--json") {
        const lines = f.stdout().trimEnd().split("\n").map((l) => JSON.parse(l));
        assert.deepEqual(lines.find((m) => m.type === "error"), error);
        assert.deepEqual(lines.find((m) => m.type === unknown.type), unknown);
      }
    });
  }
});
