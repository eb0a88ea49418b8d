/**
 * The drain on SIGTERM: `/readyz` says 503 at once while the connected clients keep streaming for
 * `--drain-delay`, then they are closed with 1001 and the process exits 0, all within 5 s. A
 * library `shutdown()` does not drain, and ends a drain that is under way.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { SERVE_OPTIONS } from "../cli/options/serve.ts";
import { MainProcess, runMain } from "./_cli.ts";
import { mintTestToken, TEST_SECRET, within, WsProbe } from "./_helpers.ts";
import { readyz, waitForReadyz } from "./_http.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

/** Publishes a reading of V1 every 50 ms, each with its own timestamp, until stopped. */
async function publishing(url: string): Promise<{ stop(): Promise<void> }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  const start = Date.now() - 60_000;
  let i = 0;
  const timer = setInterval(() => {
    const timestamp = new Date(start + 100 * i++).toISOString();
    client.publish("sensors/V1/data", JSON.stringify(payload({ timestamp })));
  }, 50);
  return {
    async stop() {
      clearInterval(timer);
      await client.endAsync(true);
    },
  };
}

Deno.test("serve: SIGTERM drains (/readyz 503, clients keep streaming), then 1001 and exit 0 within 5 s", async () => {
  const drainMs = SERVE_OPTIONS.drainDelay.default * 1000;
  await using proc = new MainProcess(
    ["serve", "--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--rate-limit", "0"],
    // The default, given explicitly: a test environment may turn drains off for speed.
    { JWT_SECRET: TEST_SECRET, DRAIN_DELAY_SECONDS: String(drainMs / 1000) },
  );
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  const [, httpUrl] = await proc.waitForOutput(/Dashboard: (http:\/\/\S+?)\/?\n/);
  const [, mqttUrl] = await proc.waitForOutput(/MQTT broker: (mqtt:\/\/\S+)/);
  await waitForReadyz(httpUrl!, 200);
  await using client = new WsProbe(`${wsUrl}?token=${await mintTestToken()}`);
  await client.next("connection_status", 5_000);
  const publisher = await publishing(mqttUrl!);
  try {
    await client.until((m) => m.some((x) => x.type === "sensor_reading"), 3_000, "a reading");

    const signalled = Date.now();
    proc.child.kill("SIGTERM");
    const notReady = await waitForReadyz(httpUrl!, 503, 1_000);
    assert.deepEqual(notReady.body, { status: "not ready", reason: "shutting down" });
    assert.ok(!client.isClosed, "the client is still connected when /readyz turns 503");

    // Readings keep coming after /readyz said 503, before the close.
    const seen = client.of("sensor_reading").length;
    await client.until(
      () => client.of("sensor_reading").length >= seen + 5 || client.isClosed,
      drainMs,
      "readings during the drain",
    );
    assert.ok(!client.isClosed, "readings flowed during the drain, before the close");
    // A new client is refused meanwhile (HTTP 503 to its upgrade).
    const late = new WsProbe(`${wsUrl}?token=${await mintTestToken()}`);
    await assert.rejects(late.opened);
    await within(2_000, late.closed);

    assert.deepEqual(await within(5_000, client.closed, "the 1001 close"), {
      code: 1001,
      reason: "server shutting down",
    });
    const closedAfter = Date.now() - signalled;
    assert.ok(
      closedAfter >= drainMs - 200,
      `closed ${closedAfter} ms after SIGTERM, before the drain ended`,
    );
    const status = await within(5_000 - (Date.now() - signalled), proc.child.status, "exit");
    assert.equal(status.code, 0, proc.stderr);
    assert.match(proc.stderr, /draining[\s\S]*shutting down[\s\S]*stopped/);
  } finally {
    await publisher.stop();
  }
});

Deno.test("serve --drain-delay 0 closes clients at once on SIGTERM", async () => {
  await using proc = new MainProcess(
    ["serve", "--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0"],
    { JWT_SECRET: TEST_SECRET, DRAIN_DELAY_SECONDS: "0" },
  );
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  await using client = new WsProbe(`${wsUrl}?token=${await mintTestToken()}`);
  await client.next("connection_status", 5_000);
  assert.equal(await proc.stop("SIGTERM", 5_000), 0);
  assert.equal((await within(1_000, client.closed)).code, 1001);
  assert.doesNotMatch(proc.stderr, /draining/);
});

Deno.test("serve: a drain delay that would not end within 5 s exits 2", async (t) => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["flag", ["--drain-delay", "4"], {}, /--drain-delay.*'4' is longer than 3 s/],
    ["variable", [], { DRAIN_DELAY_SECONDS: "10" }, /DRAIN_DELAY_SECONDS.*longer than 3 s/],
    ["not a number", ["--drain-delay", "soon"], {}, /--drain-delay.*'soon'/],
  ];
  for (const [name, args, env, pattern] of cases) {
    await t.step(name, async () => {
      const r = await runMain(["serve", "--port", "0", "--mqtt-port", "0", ...args], {
        env: { JWT_SECRET: TEST_SECRET, ...env },
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
    });
  }
});

Deno.test("shutdown() without drain ends a drain under way, and closes clients at once", async () => {
  const server = await startTestServer({ drainDelayMs: 3_000 });
  let draining: Promise<void> | undefined;
  try {
    const client = await connectClient(server);
    await client.next("connection_status");
    draining = server.shutdown({ drain: true });
    assert.equal((await readyz(server.httpUrl)).status, 503);
    assert.ok(!client.isClosed, "draining keeps the client");
    const cut = server.shutdown();
    assert.equal(cut, draining, "the same shutdown, cut short");
    assert.equal((await within(2_000, client.closed, "the close")).code, 1001);
  } finally {
    await within(3_000, draining ?? server.shutdown(), "shutdown");
  }
});

Deno.test("drainDelayMs is checked: at most 3 s", async () => {
  await assert.rejects(
    startTestServer({ drainDelayMs: 3_001 }),
    /drainDelayMs is 3001 ms; use at most 3000 ms/,
  );
});
