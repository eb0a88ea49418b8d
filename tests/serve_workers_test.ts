/** `serve --workers 2` run exactly as a user runs it (with the serve task's flags). */
import assert from "node:assert/strict";
import { parseExposition } from "../server/metrics_merge.ts";
import { MainProcess, runMain } from "./_cli.ts";
import { freePort, mintTestToken, publish, TEST_SECRET, within, WsProbe } from "./_helpers.ts";

const CLIENTS = 40;
const source = (dir: string) => new URL(`../${dir}`, import.meta.url).pathname;
/** What `deno task serve` adds to net and env for workers: SO_REUSEPORT, and reading our modules. */
const WORKER_FLAGS = [
  "--unstable-net",
  "--allow-sys=hostname",
  `--allow-read=${["server", "lib", "protocol"].map(source).join(",")}`,
];

/** The value of every sample of `name`, by worker label. */
async function byWorker(httpUrl: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const family = parseExposition(text).find((f) => f.name === name);
  const out = new Map<string, number>();
  for (const [series, value] of family?.samples ?? []) {
    out.set(/worker="(\d+)"/.exec(series)?.[1] ?? "", value);
  }
  return out;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

Deno.test("serve --workers 2: clients spread over both, readings reach all, SIGTERM closes all with 1001 and exits 0 within 5 s", async (t) => {
  const port = freePort();
  await using proc = new MainProcess(
    [
      "serve",
      "--workers",
      "2",
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
      "--mqtt-port",
      "0",
    ],
    { JWT_SECRET: TEST_SECRET },
    WORKER_FLAGS,
  );
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  const [, mqttUrl] = await proc.waitForOutput(/MQTT broker: (mqtt:\/\/\S+) \(embedded\)/);
  const httpUrl = `http://127.0.0.1:${port}`;
  const token = await mintTestToken();
  const probes = Array.from({ length: CLIENTS }, () => new WsProbe(`${wsUrl}?token=${token}`));
  try {
    await t.step("connections land on both workers, each with its instance", async () => {
      const statuses = await Promise.all(probes.map((p) => p.next("connection_status", 10_000)));
      const instances = new Set(statuses.map((s) => String(s.data.instance)));
      assert.deepEqual([...instances].map((i) => i.replace(/^.*:/, "")).sort(), [
        `${port}/0`,
        `${port}/1`,
      ]);
    });

    await t.step("/metrics shows each worker's clients, summing to all of them", async () => {
      let clients = new Map<string, number>();
      const deadline = Date.now() + 5_000;
      while (sum(clients) !== CLIENTS && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        clients = await byWorker(httpUrl, "sensorstream_clients");
      }
      assert.deepEqual([...clients.keys()].sort(), ["0", "1"]);
      assert.equal(sum(clients), CLIENTS);
      assert.ok([...clients.values()].every((n) => n > 0), "both workers have clients");
    });

    await t.step(
      "a reading published over MQTT reaches every client, through each worker's link",
      async () => {
        const connected = await byWorker(httpUrl, "sensorstream_mqtt_connected");
        assert.deepEqual([...connected.values()], [1, 1]);
        await publish(mqttUrl!, [{
          topic: "sensors/V7/data",
          payload: { moisture: 40, temperature: 20, humidity: 55, light: 300 },
        }]);
        const readings = await Promise.all(probes.map((p) => p.next("sensor_reading", 5_000)));
        assert.ok(readings.every((r) => r.data.sensor_id === "V7"));
      },
    );

    await t.step("SIGTERM: every client gets 1001 and serve exits 0 within 5 s", async () => {
      const started = Date.now();
      assert.equal(await proc.stop("SIGTERM", 5_000), 0);
      assert.ok(Date.now() - started < 5_000);
      const closes = await within(2_000, Promise.all(probes.map((p) => p.closed)));
      assert.deepEqual(new Set(closes.map((c) => c.code)), new Set([1001]));
      assert.match(proc.stderr, /shutting down worker=0/);
      assert.match(proc.stderr, /shutting down worker=1/);
    });
  } finally {
    for (const p of probes) await p.close().catch(() => {});
  }
});

Deno.test("serve --workers 2 without --unstable-net exits 1 naming the flag", async () => {
  const r = await runMain(["serve", "--workers", "2", "--port", "0", "--mqtt-port", "0"], {
    env: { JWT_SECRET: TEST_SECRET },
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--unstable-net/);
});

Deno.test("serve --workers takes a count or auto, and nothing else", async () => {
  const r = await runMain(["serve", "--workers", "0"], { env: { JWT_SECRET: TEST_SECRET } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--workers.*'0' is not auto or a whole number from 1 to 256/s);
  const env = await runMain(["serve"], { env: { JWT_SECRET: TEST_SECRET, WORKERS: "many" } });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /WORKERS: 'many' is not auto/);
});
