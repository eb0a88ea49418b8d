/**
 * `sensorstream command`: one line per state and the exit code from how it ended; usage
 * errors exit 2 before anything connects. Scripted servers play the odd cases; the real server
 * with a real Mosquitto and a device played over MQTT plays the whole way.
 */
import assert from "node:assert/strict";
import { decodeJwt, jwtVerify } from "jose";
import { runCli } from "../cli/mod.ts";
import { envelopeOf, ServerMessageSchema } from "../protocol/mod.ts";
import { freePort, mintTestToken, startMosquitto, TEST_SECRET, within } from "./_helpers.ts";
import { runMain } from "./_cli.ts";
import { connectClient, startTestServer } from "./_server.ts";
import { fakeIo } from "./_tail_io.ts";
import { AT, commandServer, ScriptedServer, status } from "./_command_servers.ts";
import { startDevice } from "./_device.ts";

/** Runs `command` in-process (bounded). */
async function command(args: string[], env: Record<string, string> = {}) {
  const f = fakeIo({ env });
  const code = await within(10_000, runCli(["command", ...args], f.io));
  return { code, stdout: f.stdout(), stderr: f.stderr(), f };
}

Deno.test("command refuses bad input with exit code 2 and usage, before connecting", async (t) => {
  // Nothing listens there: a run that got as far as connecting would exit 1, not 2.
  const url = `ws://127.0.0.1:${freePort()}/ws/sensors`;
  for (
    const [name, args, pattern] of [
      ["an unknown action", ["V1", "water"], /'water' is not a command action; use irrigate/],
      ["a bad sensor id", ["V 1", "irrigate"], /'V 1' is not a sensor id/],
      ["no action", ["V1"], /missing required argument 'action'/],
      ["a duration of 0", ["V1", "irrigate", "--duration", "0"], /'0' is not a whole number/],
      ["a duration over an hour", ["V1", "irrigate", "--duration", "3601"], /from 1 to 3600/],
      ["a fractional duration", ["V1", "irrigate", "--duration", "1.5"], /'1\.5' is not a whole/],
      ["a duration that is no number", ["V1", "irrigate", "--duration", "soon"], /'soon'/],
      ["an id over 64 characters", ["V1", "irrigate", "--id", "x".repeat(65)], /1 to 64/],
      ["a bad --url", ["V1", "irrigate", "--url", "ftp://example.org/"], /--url: /],
      ["--sub with a given token", ["V1", "irrigate", "--sub", "bob"], /--sub names the subject/],
    ] as const
  ) {
    await t.step(name, async () => {
      const { code, stdout, stderr } = await command(["--url", url, "--token", "x", ...args]);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.match(stderr, pattern);
      assert.match(stderr, /Usage: sensorstream command|--help/);
    });
  }

  await t.step("no token and no secret: says how to get a token that may", async () => {
    const { code, stderr } = await command(["V1", "irrigate", "--url", url]);
    assert.equal(code, 2);
    assert.match(stderr, /set SENSORSTREAM_TOKEN or pass --token/);
    assert.match(stderr, /sensorstream token --commands irrigate --sensors V1/);
    assert.match(stderr, /JWT_SECRET/);
  });

  await t.step("a short secret: its length, never the secret", async () => {
    const { code, stderr } = await command(["V1", "irrigate", "--url", url], {
      JWT_SECRET: "too-short-secret",
    });
    assert.equal(code, 2);
    assert.match(stderr, /16 bytes/);
    assert.ok(!stderr.includes("too-short-secret"));
  });

  await t.step("as a user runs it: exit 2 and usage", async () => {
    const out = await runMain(["command", "V1", "water"]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /'water' is not a command action; use irrigate/);
    assert.match(out.stderr, /Usage: sensorstream command \[options\] <sensor> <action>/);
  });
});

Deno.test("command --help shows the arguments, the options and examples", async () => {
  const f = fakeIo();
  assert.equal(await runCli(["command", "--help"], f.io), 0);
  for (
    const text of ["<sensor>", "<action>", "irrigate", "--duration", "--id", "--json", "Examples:"]
  ) {
    assert.ok(f.stdout().includes(text), text);
  }
});

Deno.test("command prints one line per state and exits by the ending", async (t) => {
  for (
    const [name, replies, lines, code] of [
      [
        "done: exit 0",
        (id: string) => [status(id, "sent"), status(id, "accepted"), status(id, "done")],
        "sent\naccepted\ndone\n",
        0,
      ],
      [
        "failed, with the device's detail: exit 1",
        (id: string) => [
          status(id, "sent"),
          status(id, "accepted"),
          status(id, "failed", { detail: "valve stuck" }),
        ],
        "sent\naccepted\nfailed: valve stuck\n",
        1,
      ],
      [
        "timeout: exit 1",
        (id: string) => [status(id, "sent"), status(id, "timeout")],
        "sent\ntimeout\n",
        1,
      ],
      [
        "rejected, with the reason: exit 1",
        (id: string) => [status(id, "rejected", { reason: "rate limited: V1 had a command" })],
        "rejected: rate limited: V1 had a command\n",
        1,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      await using server = commandServer(replies);
      const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x"]);
      assert.equal(out.code, code, out.stderr);
      assert.equal(out.stdout, lines);
    });
  }

  await t.step("sends the duration and the id it is given", async () => {
    await using server = commandServer((id) => [status(id, "done")]);
    const args = ["V1", "irrigate", "--url", server.url, "--token", "x"];
    const out = await command([...args, "--duration", "2m", "--id", "job-7"]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(server.received[0], [{
      type: "command",
      id: "job-7",
      sensor_id: "V1",
      action: "irrigate",
      params: { duration_s: 120 },
    }]);
    assert.match(out.stderr, /^command job-7: irrigate V1 for 120s$/m);
  });

  await t.step("without --id and --duration: a random id and 30 s", async () => {
    await using server = commandServer((id) => [status(id, "done")]);
    const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x"]);
    assert.equal(out.code, 0, out.stderr);
    const sent = server.received[0]?.[0] as { id: string; params: unknown };
    assert.match(sent.id, /^[0-9a-f]{8}$/);
    assert.deepEqual(sent.params, { duration_s: 30 });
  });

  await t.step("--json prints each server message about the command", async () => {
    await using server = commandServer((id) => [
      status(id, "sent"),
      status(id, "accepted"),
      status(id, "done", { detail: "ok" }),
    ]);
    const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x", "--json"]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trimEnd().split("\n").map((l) =>
      ServerMessageSchema.parse(JSON.parse(l))
    );
    assert.deepEqual(
      lines.map((m) => m.type === "command_status" ? m.data.status : m.type),
      ["sent", "accepted", "done"],
    );
  });

  await t.step("a server that does not know commands: its error, exit 1", async () => {
    await using server = commandServer(() => [
      envelopeOf("error", { code: "unknown_type", message: 'unknown message type "command"' }, AT),
    ]);
    const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x"]);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.match(out.stderr, /error: The server refused the command: unknown_type: /);
  });

  await t.step(
    "a connection lost after sent: what is known, and that the outcome is not",
    async () => {
      await using server = commandServer((id, ws) => {
        setTimeout(() => ws.close(1001, "server shutting down"), 20);
        return [status(id, "sent"), status(id, "accepted")];
      });
      const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x"]);
      assert.equal(out.code, 1);
      assert.equal(out.stdout, "sent\naccepted\n");
      assert.match(
        out.stderr,
        /connection lost: 1001 server shutting down; its outcome is unknown and it may still run on V1/,
      );
    },
  );

  await t.step("Ctrl-C after sent: exit 130, and the command may still run", async () => {
    await using server = commandServer((id) => [status(id, "sent")]);
    const f = fakeIo();
    const run = runCli(["command", "V1", "irrigate", "--url", server.url, "--token", "x"], f.io);
    await within(
      3_000,
      (async () => {
        while (!f.stdout().includes("sent")) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    f.controller.abort();
    assert.equal(await within(3_000, run), 130);
    assert.match(f.stderr(), /interrupted; its outcome is unknown and it may still run on V1/);
  });

  await t.step("a refused token: the server's reason, exit 1", async () => {
    await using server = new ScriptedServer((ws) => ws.close(1008, "token expired"));
    const out = await command(["V1", "irrigate", "--url", server.url, "--token", "old"]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /error: Server closed the connection: token expired/);
  });

  await t.step("nobody listening: exit 1, in words", async () => {
    const url = `ws://127.0.0.1:${freePort()}/ws/sensors`;
    const out = await command(["V1", "irrigate", "--url", url, "--token", "x"]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /Cannot connect to .*: connection refused/);
  });
});

Deno.test("command mints a token for this action on this sensor only", async (t) => {
  for (
    const [name, extra, sub] of [
      ["subject command by default", [], "command"],
      ["--sub names the subject", ["--sub", "alice"], "alice"],
    ] as const
  ) {
    await t.step(name, async () => {
      await using server = commandServer((id) => [status(id, "done")]);
      const args = ["V1", "irrigate", "--url", server.url, "--duration", "5", ...extra];
      const out = await command(args, { JWT_SECRET: TEST_SECRET });
      assert.equal(out.code, 0, out.stderr);
      const token = server.bearers[0] ?? "";
      const { payload } = await jwtVerify(token, new TextEncoder().encode(TEST_SECRET));
      assert.equal(payload.sub, sub);
      assert.deepEqual(payload.commands, ["irrigate"]);
      assert.deepEqual(payload.sensors, ["V1"]);
      const { iat, exp } = decodeJwt(token);
      assert.ok(exp! - iat! < 600, `a short life: ${exp! - iat!} s`);
    });
  }
});

/** Clears the screen, rings the bell, opens a C1 CSI and flips the text direction. */
const HOSTILE = "\x1b[2J\x07\u009b31m\u202eevil";
// deno-lint-ignore no-control-regex
const RAW_CONTROL = /\x1b|[\x07\u009b\u202e]/;

Deno.test("command prints no raw control characters from the server", async (t) => {
  const hostile = (id: string) => [
    status(id, "sent"),
    status(id, "failed", { detail: HOSTILE }),
  ];
  for (const extra of [[], ["--json"]]) {
    await t.step(extra.join(" ") || "lines", async () => {
      await using server = commandServer(hostile);
      const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x", ...extra]);
      assert.equal(out.code, 1);
      assert.doesNotMatch(out.stdout, RAW_CONTROL);
      assert.doesNotMatch(out.stderr, RAW_CONTROL);
      if (extra.length === 0) assert.match(out.stdout, /failed: \\x1b\[2J\\x07\\x9b31m\\u202eevil/);
      else assert.equal(JSON.parse(out.stdout.trimEnd().split("\n")[1]!).data.detail, HOSTILE);
    });
  }
  await t.step("an error reply", async () => {
    await using server = commandServer(() => [
      envelopeOf("error", { code: "invalid_message", message: HOSTILE }, AT),
    ]);
    const out = await command(["V1", "irrigate", "--url", server.url, "--token", "x"]);
    assert.equal(out.code, 1);
    assert.doesNotMatch(out.stderr, RAW_CONTROL);
    assert.match(out.stderr, /invalid_message: \\x1b\[2J/);
  });
});

Deno.test("command against the real server, a real broker and a device played over MQTT", async (t) => {
  await using broker = await startMosquitto();
  await using server = await startTestServer({
    mqtt: { url: broker.url },
    commands: {
      intervalMs: 0,
      timeoutMs: 500,
      topic: "sensors/{id}/commands",
      ackTopic: undefined,
    },
  });
  const commandToken = await mintTestToken({ commands: ["irrigate"] }, { sub: "alice" });
  const run = (sensor: string, env: Record<string, string>, extra: string[] = []) =>
    command([sensor, "irrigate", "--url", server.wsUrl, "--duration", "1", ...extra], env);

  await t.step("the device waters and says done: sent, accepted, done, exit 0", async () => {
    await using device = await startDevice(broker.url, () => [
      { status: "accepted" },
      { status: "done", detail: "watered 1 s" },
    ]);
    const out = await run("V1", { SENSORSTREAM_TOKEN: commandToken });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "sent\naccepted\ndone: watered 1 s\n");
    assert.equal(device.received.length, 1);
  });

  await t.step("the device fails: its detail, exit 1", async () => {
    await using _device = await startDevice(broker.url, () => [
      { status: "accepted" },
      { status: "failed", detail: "valve stuck" },
    ]);
    const out = await run("V2", { SENSORSTREAM_TOKEN: commandToken });
    assert.equal(out.code, 1, out.stderr);
    assert.equal(out.stdout, "sent\naccepted\nfailed: valve stuck\n");
  });

  await t.step("the device stays silent: the server's timeout, exit 1", async () => {
    await using _device = await startDevice(broker.url, () => []);
    const out = await run("V3", { SENSORSTREAM_TOKEN: commandToken });
    assert.equal(out.code, 1, out.stderr);
    assert.equal(out.stdout, "sent\ntimeout\n");
  });

  await t.step("a token without the commands claim: rejected, exit 1", async () => {
    await using device = await startDevice(broker.url, () => [{ status: "done" }]);
    const plain = await mintTestToken({}, { sub: "viewer" });
    const out = await run("V4", { SENSORSTREAM_TOKEN: plain });
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stdout, /^rejected: not permitted: /);
    assert.match(out.stderr, /get a token that may: sensorstream token --commands irrigate/);
    assert.equal(out.stdout.split("\n").length, 2, "one line");
    assert.equal(device.received.length, 0, "nothing reached the device");
  });

  await t.step("a token minted with the secret is one the server takes", async () => {
    await using device = await startDevice(broker.url, () => [{ status: "done" }]);
    const out = await run("V5", { JWT_SECRET: TEST_SECRET }, ["--sub", "ops"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "sent\ndone\n");
    assert.equal(device.received[0]?.command?.issued_by, "ops");
  });

  await t.step("the broker is down: rejected: broker unavailable, exit 1", async () => {
    await using probe = await connectClient(server);
    await broker.kill();
    await probe.until(
      (ms) => ms.some((m) => m.type === "bridge_status" && m.data.mqtt === "disconnected"),
      5_000,
      "the server to notice the broker is gone",
    );
    const out = await run("V6", { SENSORSTREAM_TOKEN: commandToken });
    assert.equal(out.code, 1, out.stderr);
    assert.equal(out.stdout, "rejected: broker unavailable\n");
  });
});

Deno.test("command as a user runs it, against the real server", async () => {
  await using broker = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: broker.url } });
  await using _device = await startDevice(broker.url, () => [
    { status: "accepted" },
    { status: "done" },
  ]);
  const token = await mintTestToken({ commands: ["irrigate"], sensors: ["V1"] });
  const args = ["command", "V1", "irrigate", "--url", server.wsUrl, "--duration", "1"];
  const out = await runMain(args, { env: { SENSORSTREAM_TOKEN: token } });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, "sent\naccepted\ndone\n");
  assert.ok(!out.stderr.includes(token), "the token is never printed");
});
