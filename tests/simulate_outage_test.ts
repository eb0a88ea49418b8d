/** `simulate --outage` and the demo's outage: a sensor silent for a while, then back. */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { runCli } from "../cli/mod.ts";
import type { CliIo } from "../cli/io.ts";
import { demoOutage, outageText } from "../cli/demo_command.ts";
import { parseOutage, SIMULATE_OPTIONS } from "../cli/options/simulate.ts";
import { configFrom } from "../cli/options/table.ts";
import { OptionError } from "../lib/errors.ts";
import { sensorIdFromTopic } from "../protocol/mod.ts";
import { runSimulator, type SimulatorStatus } from "../sim/mod.ts";
import { FakeClock } from "./_fake_clock.ts";
import { recordingLogger, startMosquitto, waitFor, within } from "./_helpers.ts";

/** A subscriber keeping each reading's sensor and timestamp (ms since the first reading). */
async function readings(url: string) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  const got: Array<{ id: string; stamp: number }> = [];
  client.on("message", (topic, payload) => {
    got.push({
      id: sensorIdFromTopic(topic)!,
      stamp: Date.parse(JSON.parse(`${payload}`).timestamp),
    });
  });
  await client.subscribeAsync("sensors/+/data", { qos: 1 });
  return {
    got,
    /** Timestamps of `id`'s readings, ms after the run's first reading. */
    of(id: string): number[] {
      const first = Math.min(...got.map((r) => r.stamp));
      return got.filter((r) => r.id === id).map((r) => r.stamp - first);
    },
    async [Symbol.asyncDispose]() {
      await client.endAsync();
    },
  };
}

/** A CliIo that collects output, for running commands in-process. */
function fakeIo(isTerminal = false) {
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
    env: () => undefined,
    isTerminal,
    columns: 120,
    signal: new AbortController().signal,
  };
  return { io, out };
}

Deno.test("runSimulator with an outage, into a real Mosquitto", async (t) => {
  await using broker = await startMosquitto();

  await t.step("V3 publishes nothing during its outage and again after it", async () => {
    await using sub = await readings(broker.url);
    const statuses: SimulatorStatus[] = [];
    const { logger, lines } = recordingLogger();
    const summary = await within(
      10_000,
      runSimulator({
        mqttUrl: broker.url,
        sensors: ["V1", "V2", "V3"],
        intervalMs: 100,
        count: 90,
        outages: [{ sensorId: "V3", durationMs: 2_000, startMs: 1_000 }],
        qos: 1,
        seed: 1,
      }, { logger, onStatus: (s) => statuses.push(s) }),
    );
    assert.equal(summary.published, 90, "withheld readings do not count");
    await waitFor(() => sub.got.length >= 90, 3_000, "90 readings");
    const v3 = sub.of("V3");
    assert.deepEqual(v3.filter((ms) => ms >= 1_000 && ms < 3_000), [], "silent in the outage");
    assert.ok(v3.filter((ms) => ms < 1_000).length >= 5, `before: ${v3}`);
    assert.ok(v3.filter((ms) => ms >= 3_000).length >= 3, `after: ${v3}`);
    assert.ok(sub.of("V1").some((ms) => ms >= 1_000 && ms < 3_000), "V1 carries on");
    assert.ok(statuses.some((s) => s.silent.includes("V3")));
    assert.deepEqual(statuses.at(-1)?.silent, []);
    const said = lines.filter((l) => l.event.startsWith("outage"));
    assert.deepEqual(said.map((l) => [l.event, l.fields.sensor]), [
      ["outage: sensor goes silent", "V3"],
      ["outage over: sensor publishes again", "V3"],
    ]);
  });

  await t.step("on a hand-held clock, the demo's outage: V5 silent from 30 s to 60 s", async () => {
    await using sub = await readings(broker.url);
    const clock = new FakeClock(Date.UTC(2024, 5, 1));
    const summary = await within(
      10_000,
      runSimulator({
        mqttUrl: broker.url,
        sensors: ["V1", "V2", "V3", "V4", "V5"],
        intervalMs: 1_000,
        durationMs: 90_000,
        outages: [demoOutage(10_000, 1_000)],
        qos: 1,
      }, { now: () => clock.now(), sleep: (ms) => Promise.resolve(clock.advance(ms)) }),
    );
    assert.equal(summary.published, 5 * 90 - 30);
    await waitFor(() => sub.got.length >= summary.published, 3_000, "every reading");
    const v5 = sub.of("V5");
    assert.deepEqual(v5.filter((ms) => ms >= 30_000 && ms < 60_000), []);
    assert.equal(v5.filter((ms) => ms < 30_000).length, 30);
    assert.equal(v5.filter((ms) => ms >= 60_000).length, 30);
    assert.equal(sub.of("V1").length, 90);
  });
});

Deno.test("simulate --outage", async (t) => {
  await t.step("parses ID:DURATION[@START] in the duration units of the other flags", () => {
    assert.deepEqual(parseOutage("V3:30s"), {
      sensorId: "V3",
      durationMs: 30_000,
      startMs: undefined,
    });
    assert.deepEqual(parseOutage("V3:30s@20s"), {
      sensorId: "V3",
      durationMs: 30_000,
      startMs: 20_000,
    });
    assert.deepEqual(parseOutage("soil-2:2m@90"), {
      sensorId: "soil-2",
      durationMs: 120_000,
      startMs: 90_000,
    });
    assert.deepEqual(parseOutage("V1:1.5s@0"), { sensorId: "V1", durationMs: 1_500, startMs: 0 });
    for (const bad of ["V3", "V3:", ":30s", "V3:soon", "V3:30s@later", "V3:0s", "V3:30s@"]) {
      assert.throws(() => parseOutage(bad), OptionError, bad);
    }
  });

  await t.step("is repeatable; each value becomes one outage", () => {
    const config = configFrom(SIMULATE_OPTIONS, { outage: ["V3:30s", "V5:10s@1m"] });
    assert.deepEqual(config.outages, [
      { sensorId: "V3", durationMs: 30_000, startMs: undefined },
      { sensorId: "V5", durationMs: 10_000, startMs: 60_000 },
    ]);
  });

  await t.step("a malformed value or unknown sensor exits 2 naming --outage", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--outage", "V3"], /--outage 'V3' is not ID:DURATION\[@START\]/],
      [["--outage", "V3:soon"], /--outage 'V3:soon': 'soon' is not a duration/],
      [["--outage", "V3:30s@later"], /--outage 'V3:30s@later': 'later' is not a duration/],
      [["--outage", "V3:0"], /--outage 'V3:0': the duration must be longer than 0/],
      [["--outage", "V9:30s"], /--outage names sensor 'V9', which this run does not publish/],
      [
        ["--sensors", "V1,V2", "--outage", "V1:1s", "--outage", "V3:1s"],
        /--outage names sensor 'V3'.*\(its --sensors: V1,V2\)/,
      ],
    ];
    for (const [args, message] of cases) {
      const { io, out } = fakeIo();
      const code = await runCli(["simulate", "--mqtt-url", "mqtt://127.0.0.1:1", ...args], io);
      assert.equal(code, 2, out.stderr);
      assert.match(out.stderr, message);
      assert.match(out.stderr, /Usage: sensorstream simulate/);
    }
  });

  await t.step("says when a sensor goes silent and when it publishes again", async () => {
    await using broker = await startMosquitto();
    const { io, out } = fakeIo(true);
    const args = [
      "simulate",
      "--mqtt-url",
      broker.url,
      "--sensors",
      "V1,V3",
      "--interval",
      "100ms",
    ];
    const outages = ["--outage", "V3:600ms@200ms", "--outage", "V1:300ms@0"];
    const code = await within(10_000, runCli([...args, ...outages, "--count", "16"], io));
    assert.equal(code, 0, out.stderr);
    assert.match(out.stderr, /outage: sensor goes silent sensor=V1 for=0\.3s/);
    assert.match(out.stderr, /outage: sensor goes silent sensor=V3 for=0\.\ds/);
    assert.match(out.stderr, /outage over: sensor publishes again sensor=V3 silent=0\.\ds/);
    assert.match(out.stderr, /published 16 \(0 invalid\)/);
    assert.match(out.stdout, /broker: connected {2}silent: V3/, "the live line names it");
  });
});

Deno.test("demo's outage is long enough for serve to call V5 stale, and says so", () => {
  assert.deepEqual(demoOutage(10_000, 1_000), {
    sensorId: "V5",
    startMs: 30_000,
    durationMs: 30_000,
  });
  assert.equal(demoOutage(60_000, 1_000).durationMs, 120_000, "a longer --stale-after");
  assert.equal(demoOutage(10_000, 20_000).durationMs, 120_000, "three slow intervals");
  assert.equal(
    outageText(demoOutage(10_000, 1_000)),
    "V5 goes silent 30 s in, for 30 s: watch it turn stale, then live again",
  );
});
