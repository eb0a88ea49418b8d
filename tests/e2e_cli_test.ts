/** The subcommands together, each in its own process, exactly as a user runs them. */
import assert from "node:assert/strict";
import { SensorPayloadSchema, ServerMessageSchema } from "../protocol/mod.ts";
import { MainProcess, runMain } from "./_cli.ts";
import { freePort, TEST_SECRET, waitForPort } from "./_helpers.ts";
import { scrape, waitForMetric } from "./_http.ts";

const env = { JWT_SECRET: TEST_SECRET };

/** Starts `serve` on free ports and returns it with its URLs. */
async function serve(port = 0, mqttPort = freePort()) {
  const proc = new MainProcess([
    "serve",
    ...["--port", String(port), "--hostname", "127.0.0.1", "--mqtt-port", String(mqttPort)],
    ...["--rate-limit", "0"],
  ], env);
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  return { proc, wsUrl: wsUrl!, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, mqttPort };
}

/** serve's HTTP base URL, from its WebSocket URL. */
function httpUrlOf(wsUrl: string): string {
  return wsUrl.replace(/^ws/, "http").replace(/\/ws\/sensors$/, "");
}

/** Waits until serve counts `n` connected clients (its client gauge). */
async function clientsConnected(wsUrl: string, n: number): Promise<void> {
  await waitForMetric(httpUrlOf(wsUrl), "sensorstream_clients", (v) => v === n, { ms: 10_000 });
}

Deno.test("simulate into serve's embedded broker; tail --json --count 5 gets the readings", async () => {
  const s = await serve();
  await using _serve = s.proc;
  const tail = runMain(["tail", "--url", s.wsUrl, "--json", "--count", "5"], {
    env,
    timeoutMs: 20_000,
  });
  // tail must be connected before anything is published, so it sees live readings.
  await clientsConnected(s.wsUrl, 1);
  const sim = await runMain([
    "simulate",
    ...["--mqtt-url", s.mqttUrl, "--count", "40", "--interval", "100ms", "--seed", "7"],
    ...["--sensors", "V1,V2,V3,V4,V5", "--invalid-ratio", "0.25", "--qos", "1"],
  ]);
  assert.equal(sim.code, 0, sim.stderr);
  const out = await tail;
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trim().split("\n");
  const messages = lines.map((l) => ServerMessageSchema.parse(JSON.parse(l)));
  const readings = messages.filter((m) => m.type === "sensor_reading");
  assert.equal(readings.length, 5);
  for (const r of readings) {
    assert.match(r.data.sensor_id, /^V[1-5]$/);
    assert.ok(SensorPayloadSchema.safeParse(r.data).success);
  }
  // simulate's malformed payloads were rejected and counted by serve while valid ones flowed.
  const http = httpUrlOf(s.wsUrl);
  await waitForMetric(http, "sensorstream_mqtt_messages_received_total", (v) => v === 40, {
    ms: 5_000,
  });
  const invalid = 40 - (await scrape(http, "sensorstream_readings_forwarded_total") ?? 0);
  const summary = sim.stderr.match(/published (\d+) \((\d+) invalid/);
  assert.ok(summary, sim.stderr);
  assert.equal(Number(summary[1]), 40);
  assert.ok(Number(summary[2]) > 0, "some payloads were malformed");
  assert.equal(invalid, Number(summary[2]));
});

Deno.test("token round-trips through serve, and its sensors claim holds", async () => {
  const s = await serve();
  await using _serve = s.proc;
  const minted = await runMain(["token", "--sub", "alice", "--sensors", "V2"], { env });
  assert.equal(minted.code, 0, minted.stderr);
  const token = minted.stdout.trim();
  const tail = runMain(["tail", "--url", s.wsUrl, "--token", token, "--json", "--count", "2"]);
  await clientsConnected(s.wsUrl, 1);
  const sim = await runMain([
    "simulate",
    ...["--mqtt-url", s.mqttUrl, "--count", "20", "--interval", "50ms", "--sensors", "V1,V2"],
  ]);
  assert.equal(sim.code, 0, sim.stderr);
  const out = await tail;
  assert.equal(out.code, 0, out.stderr);
  const readings = out.stdout.trim().split("\n").map((l) => JSON.parse(l))
    .filter((m) => m.type === "sensor_reading");
  assert.deepEqual(readings.map((r) => r.data.sensor_id), ["V2", "V2"]);
});

Deno.test("tail exits 1 with the reason when its token is rejected", async () => {
  const s = await serve();
  await using _serve = s.proc;
  const out = await runMain(["tail", "--url", s.wsUrl, "--token", "not.a.token", "--count", "1"]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /invalid token/);
});

Deno.test("tail reconnects when serve restarts and keeps counting readings", async () => {
  const port = freePort();
  const first = await serve(port);
  const tail = new MainProcess(["tail", "--url", first.wsUrl, "--json", "--count", "2"], env);
  await using _tail = tail;
  await tail.waitForOutput(/"connection_status"/);
  const sim1 = await runMain(["simulate", "--mqtt-url", first.mqttUrl, "--count", "1"]);
  assert.equal(sim1.code, 0, sim1.stderr);
  await tail.waitForOutput(/"sensor_reading"/);
  assert.equal(await first.proc.stop("SIGTERM"), 0);

  const second = await serve(port);
  await using _second = second.proc;
  await waitForPort(port);
  await tail.waitForOutput(/"connection_status"[\s\S]*"connection_status"/, 15_000);
  const sim2 = await runMain(["simulate", "--mqtt-url", second.mqttUrl, "--count", "1"]);
  assert.equal(sim2.code, 0, sim2.stderr);
  const status = await tail.child.status;
  assert.equal(status.code, 0, tail.stderr);
  assert.match(tail.stderr, /reconnect/i);
});

Deno.test("every subcommand's bad flag exits 2 with usage", async (t) => {
  for (const cmd of ["serve", "simulate", "tail", "token", "demo", "command"]) {
    await t.step(cmd, async () => {
      const out = await runMain([cmd, "--no-such-flag"], { env });
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, /unknown option '--no-such-flag'/);
      assert.match(out.stderr, new RegExp(`Usage: sensorstream ${cmd}`));
    });
  }
});

Deno.test("demo: the printed tail command streams simulated readings", async () => {
  await using demo = new MainProcess([
    "demo",
    ...["--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--sim-interval", "100ms"],
  ]);
  // Run exactly as printed: the token in the environment, where `ps` cannot see it.
  const [, token, url] = await demo.waitForOutput(
    /SENSORSTREAM_TOKEN=(\S+) deno task tail --url (\S+)/,
  );
  assert.match(demo.stdout, /development/);
  const out = await runMain(["tail", "--url", url!, "--json", "--count", "3"], {
    env: { SENSORSTREAM_TOKEN: token! },
  });
  assert.equal(out.code, 0, out.stderr);
  const readings = out.stdout.trim().split("\n").map((l) =>
    ServerMessageSchema.parse(JSON.parse(l))
  )
    .filter((m) => m.type === "sensor_reading");
  assert.equal(readings.length, 3);
  assert.equal(await demo.stop("SIGINT", 5_000), 0);
});
