/** `serve` run exactly as a user runs it. */
import assert from "node:assert/strict";
import { freePort, mintTestToken, TEST_SECRET, waitForPort, within, WsProbe } from "./_helpers.ts";
import { cleanEnv, MainProcess, runMain } from "./_cli.ts";
import { resetAt } from "./_raw_peers.ts";

Deno.test("serve: SIGTERM closes clients with 1001 and exits 0 within 5 s", async () => {
  await using proc = new MainProcess(
    ["serve", "--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--log-level", "debug"],
    { JWT_SECRET: TEST_SECRET },
  );
  const [, url] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  const token = await mintTestToken({}, { sub: "logged-user" });
  const probe = new WsProbe(`${url}?token=${token}`);
  await probe.next("connection_status", 5_000);
  // Rejected tokens must not be logged either.
  const bad = `${token.slice(0, -4)}AAAA`;
  const rejected = new WsProbe(`${url}?token=${bad}`);
  assert.equal((await within(3_000, rejected.closed)).code, 1008);
  assert.equal(await proc.stop("SIGTERM", 5_000), 0);
  assert.deepEqual(await within(2_000, probe.closed), {
    code: 1001,
    reason: "server shutting down",
  });
  assert.match(proc.stderr, /client connected.*logged-user/);
  for (const t of [token, bad, token.split(".")[2]!]) {
    assert.ok(!proc.stderr.includes(t) && !proc.stdout.includes(t), "tokens never appear in logs");
  }
});

Deno.test("serve without a secret runs in dev mode and prints a token that works", async () => {
  await using proc = new MainProcess([
    "serve",
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
    "--mqtt-port",
    "0",
  ]);
  const [, wsUrl] = await proc.waitForOutput(/WebSocket URL:\s+(\S+)/);
  assert.match(proc.stdout, /WARNING: .*development|development only/);
  // The development token may irrigate, and the banner says how.
  await proc.waitForOutput(/Irrigate V1:\s+SENSORSTREAM_TOKEN=\S+ deno task command V1 irrigate/);
  await using probe = new WsProbe(wsUrl!);
  await probe.next("connection_status", 5_000);
  probe.send({
    type: "command",
    id: "c1",
    sensor_id: "V1",
    action: "irrigate",
    params: { duration_s: 1 },
  });
  const status = await probe.next("command_status", 5_000);
  assert.equal(status.data.status, "sent", JSON.stringify(status.data));
  assert.equal(await proc.stop("SIGINT"), 0);
});

Deno.test("serve: invalid configuration exits 2 with a message naming the option", async (t) => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["bad port flag", ["--port", "99999"], {}, /port/],
    ["short secret", [], { JWT_SECRET: "short" }, /JWT_SECRET.*32/],
    [
      "bad rate limit env",
      [],
      { WEBSOCKET_RATE_LIMIT_SECONDS: "fast" },
      /rate-limit|WEBSOCKET_RATE/,
    ],
    ["bad topic", ["--topic", "sensors/#"], {}, /topic/],
    ["unknown flag", ["--bogus"], {}, /unknown option/],
  ];
  for (const [name, args, env, pattern] of cases) {
    await t.step(name, async () => {
      const r = await runMain(["serve", "--port", "0", "--mqtt-port", "0", ...args], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
    });
  }
});

Deno.test("serve: embedded broker port busy exits 1 naming --mqtt-url", async () => {
  const port = freePort();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const r = await runMain(["serve", "--port", "0", "--mqtt-port", String(port)], {
      env: { JWT_SECRET: TEST_SECRET },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /set --mqtt-url \/ MQTT_BROKER_URL to mqtt:\/\/localhost:\d+/);
  } finally {
    blocker.close();
  }
});

Deno.test({
  name: "serve out of file descriptors shuts down and exits 1 saying why",
  // Deno keeps a socket for each handshake reset before its 101; with a low descriptor limit a
  // few hundred of them exhaust it. serve must then stop cleanly, not hang or crash unexplained.
  ignore: Deno.build.os !== "linux",
  async fn() {
    const port = freePort();
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=160:160",
        Deno.execPath(),
        "run",
        "--allow-net",
        "--allow-env",
        new URL("../main.ts", import.meta.url).pathname,
        "serve",
        "--port",
        String(port),
        "--hostname",
        "127.0.0.1",
        "--mqtt-port",
        "0",
      ],
      env: { ...cleanEnv(), JWT_SECRET: TEST_SECRET },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    try {
      await waitForPort(port, 15_000);
      // Enough resets to run past the limit; later ones may fail once nothing accepts.
      for (let i = 0; i < 250; i++) await resetAt(port, "request").catch(() => {});
      const out = await within(15_000, output, "serve exiting");
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.match(stderr, /listener failed/);
      assert.match(stderr, /error: The HTTP listener failed: .*Restart the service/);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await output.catch(() => {});
    }
  },
});
