/**
 * Several workers on one port, in-process: connections spread over them, a worker that dies is
 * restarted and its clients get back in, `/metrics` counters never go down, shutdown closes
 * every client with 1001. (Needs `--unstable-net`, as `serve --workers` does.)
 */
import assert from "node:assert/strict";
import { parseExposition } from "../server/metrics_merge.ts";
import { reusePortAvailable, startWorkers, type WorkersHandle } from "../server/workers.ts";
import { CRASH_CHANNEL } from "./_crash_channel.ts";
import {
  mintTestToken,
  publish,
  recordingLogger,
  TEST_SECRET,
  waitFor,
  WsProbe,
} from "./_helpers.ts";

const CLIENTS = 20;

/** Every counter series of a `/metrics` text, by series. */
async function counters(server: WorkersHandle): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const family of parseExposition(text)) {
    if (family.type !== "counter" && family.type !== "histogram") continue;
    for (const [series, value] of family.samples) out.set(series, value);
  }
  return out;
}

/** Opens `n` clients and waits for their `connection_status`; returns them with their worker. */
async function connect(server: WorkersHandle, token: string, n: number) {
  const probes = Array.from({ length: n }, () => new WsProbe(`${server.wsUrl}?token=${token}`));
  const workers = await Promise.all(probes.map(async (p) => {
    const status = await p.next("connection_status", 10_000);
    return Number(/\/(\d+)$/.exec(String(status.data.instance))?.[1]);
  }));
  return probes.map((probe, i) => ({ probe, worker: workers[i]! }));
}

const reading = (moisture: number) => ({
  topic: "sensors/V1/data",
  payload: { moisture, temperature: 21, humidity: 50, light: 100 },
});

Deno.test("workers share the port, survive a crash with monotonic counters, and stop with 1001", async (t) => {
  assert.ok(reusePortAvailable(), "run the tests with --unstable-net (deno task test has it)");
  const { logger, lines } = recordingLogger();
  const server = await startWorkers(
    {
      port: 0,
      hostname: "127.0.0.1",
      mqtt: { embeddedPort: 0 },
      auth: { secret: TEST_SECRET },
      limits: { rateLimitMs: 0 },
      drainDelayMs: 0,
    },
    2,
    {
      logger,
      workerUrl: new URL("./_crashing_worker.ts", import.meta.url),
      restartMs: { min: 100, max: 1_000 },
    },
  );
  const crash = new BroadcastChannel(CRASH_CHANNEL);
  const token = await mintTestToken();
  let clients: Awaited<ReturnType<typeof connect>> = [];
  try {
    await t.step("connections land on both workers, and every client gets readings", async () => {
      clients = await connect(server, token, CLIENTS);
      assert.deepEqual(new Set(clients.map((c) => c.worker)), new Set([0, 1]));
      // Both bridges subscribed before the reading is published.
      await waitFor(() => lines.filter((l) => l.event === "mqtt connected").length === 2, 5_000);
      await publish(server.mqttUrl, [reading(41)]);
      await Promise.all(clients.map((c) => c.probe.next("sensor_reading", 5_000)));
    });

    let before = new Map<string, number>();
    await t.step("/metrics on any worker shows both workers' counts", async () => {
      const connected = (m: Map<string, number>) =>
        (m.get('sensorstream_connections_total{worker="0"}') ?? 0) +
        (m.get('sensorstream_connections_total{worker="1"}') ?? 0);
      const deadline = Date.now() + 5_000;
      while (connected(before) < CLIENTS && Date.now() < deadline) {
        before = await counters(server);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(connected(before), CLIENTS);
    });

    await t.step("a worker that dies is restarted, and its clients get back in", async () => {
      const victims = clients.filter((c) => c.worker === 1);
      crash.postMessage(1);
      const closes = await Promise.all(victims.map((c) => c.probe.closed));
      // Dropped with the worker, not closed (Deno reports an abnormal closure as 0 or 1006).
      assert.ok(closes.every((c) => c.code === 0 || c.code === 1006), JSON.stringify(closes));
      await waitFor(() => server.restarts === 1, 5_000, "worker 1 restarted");
      assert.ok(
        lines.some((l) => l.event === "worker stopped; restarting it" && l.fields.worker === 1),
      );
      const back = await connect(server, token, victims.length);
      clients = [...clients.filter((c) => c.worker !== 1), ...back];
      // The kernel spreads them over both; a few more until one is on the successor, at worst.
      for (let i = 0; i < 30 && !clients.some((c) => c.worker === 1); i++) {
        clients.push(...await connect(server, token, 1));
      }
      assert.ok(clients.some((c) => c.worker === 1), "the successor serves");
      await waitFor(() => lines.filter((l) => l.event === "mqtt connected").length === 3, 5_000);
      await publish(server.mqttUrl, [reading(42)]);
      await Promise.all(
        clients.map((c) =>
          c.probe.until(
            () => c.probe.of("sensor_reading").some((m) => m.data.moisture === 42),
            5_000,
          )
        ),
      );
    });

    await t.step("no counter went down across the restart", async () => {
      let after = await counters(server);
      // The successor's connections show after its first report is merged (within a second).
      const deadline = Date.now() + 3_000;
      while (
        (after.get('sensorstream_connections_total{worker="1"}') ?? 0) <=
          (before.get('sensorstream_connections_total{worker="1"}') ?? 0) &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 100));
        after = await counters(server);
      }
      for (const [series, value] of before) {
        assert.ok(
          (after.get(series) ?? -1) >= value,
          `${series}: ${value} -> ${after.get(series)}`,
        );
      }
      assert.ok(
        after.get('sensorstream_connections_total{worker="1"}')! >
          before.get('sensorstream_connections_total{worker="1"}')!,
        "the successor's connections add to its predecessor's",
      );
    });

    await t.step("shutdown closes every client with 1001", async () => {
      await server.shutdown();
      const closes = await Promise.all(clients.map((c) => c.probe.closed));
      assert.deepEqual(new Set(closes.map((c) => c.code)), new Set([1001]));
    });
  } finally {
    crash.close();
    await server.shutdown();
    for (const c of clients) await c.probe.close().catch(() => {});
  }
});
