import assert from "node:assert/strict";
import mqtt from "mqtt";
import { runCli } from "../cli/mod.ts";
import type { CliIo } from "../cli/io.ts";
import { OptionError, StartupError } from "../lib/errors.ts";
import { sensorIdFromTopic, SensorPayloadSchema } from "../protocol/mod.ts";
import { runSimulator, type SimulatorStatus } from "../sim/mod.ts";
import { runMain } from "./_cli.ts";
import { freePort, startMosquitto, waitFor, within } from "./_helpers.ts";

/** An MQTT subscriber on `filter` that keeps every message it gets. */
async function subscribe(url: string, filter = "sensors/+/data") {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  const messages: Array<{ topic: string; text: string }> = [];
  client.on("message", (topic, payload) => messages.push({ topic, text: payload.toString() }));
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    messages,
    async [Symbol.asyncDispose]() {
      await client.endAsync();
    },
  };
}

/** True when the payload is JSON the protocol accepts for the topic's sensor. */
function isValid(topic: string, text: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  const parsed = SensorPayloadSchema.safeParse(json);
  return parsed.success && parsed.data.sensor_id === sensorIdFromTopic(topic);
}

/** A CliIo that collects output, for running commands in-process. */
function fakeIo(options: { isTerminal?: boolean; env?: Record<string, string> } = {}) {
  const controller = new AbortController();
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
    env: (name) => options.env?.[name],
    isTerminal: options.isTerminal ?? false,
    columns: 80,
    signal: controller.signal,
  };
  return { io, out, controller };
}

const SENSORS = ["V1", "V2", "V3"];

Deno.test("runSimulator against a real Mosquitto", async (t) => {
  await using broker = await startMosquitto();

  await t.step(
    "publishes exactly `count` valid readings, round-robin over the sensors",
    async () => {
      await using sub = await subscribe(broker.url);
      const statuses: SimulatorStatus[] = [];
      const summary = await within(
        10_000,
        runSimulator(
          { mqttUrl: broker.url, sensors: SENSORS, count: 20, intervalMs: 30, seed: 1, qos: 1 },
          { onStatus: (s) => statuses.push(s) },
        ),
      );
      assert.equal(summary.published, 20);
      assert.equal(summary.invalid, 0);
      assert.equal(summary.seed, 1);
      await waitFor(() => sub.messages.length >= 20, 3_000, "20 messages");
      assert.equal(sub.messages.length, 20);
      for (const m of sub.messages) assert.ok(isValid(m.topic, m.text), `${m.topic} ${m.text}`);
      const ids = sub.messages.map((m) => sensorIdFromTopic(m.topic));
      for (const id of SENSORS) assert.ok(ids.filter((x) => x === id).length >= 6);
      assert.equal(statuses.at(-1)?.published, 20);
      assert.ok(statuses.some((s) => s.broker === "connected"));
    },
  );

  await t.step("with an invalid ratio, mixes in malformed payloads and counts them", async () => {
    await using sub = await subscribe(broker.url);
    const summary = await within(
      10_000,
      runSimulator({
        mqttUrl: broker.url,
        sensors: SENSORS,
        count: 40,
        intervalMs: 15,
        invalidRatio: 0.5,
        seed: 7,
        qos: 1,
      }),
    );
    await waitFor(() => sub.messages.length >= 40, 3_000, "40 messages");
    const invalid = sub.messages.filter((m) => !isValid(m.topic, m.text)).length;
    assert.equal(summary.published, 40);
    assert.equal(summary.invalid, invalid);
    assert.ok(invalid > 5 && invalid < 35, `${invalid} invalid of 40`);
  });

  await t.step("the same seed and start time publish the same readings", async () => {
    const once = async () => {
      await using sub = await subscribe(broker.url);
      await runSimulator({
        mqttUrl: broker.url,
        sensors: SENSORS,
        count: 12,
        intervalMs: 10,
        seed: 3,
        timeScale: 3_600,
        startTime: Date.UTC(2024, 5, 1, 6),
        qos: 1,
      });
      await waitFor(() => sub.messages.length >= 12, 3_000, "12 messages");
      return sub.messages;
    };
    const first = await once();
    assert.deepEqual(await once(), first);
    assert.equal(JSON.parse(first[0]!.text).timestamp, "2024-06-01T06:00:00.000Z");
  });

  await t.step("the same seed alone gives the same values, with current timestamps", async () => {
    const once = async () => {
      await using sub = await subscribe(broker.url);
      const before = Date.now();
      await runSimulator({
        mqttUrl: broker.url,
        sensors: SENSORS,
        count: 10,
        intervalMs: 10,
        seed: 11,
        qos: 1,
      });
      await waitFor(() => sub.messages.length >= 10, 3_000, "10 messages");
      const payloads = sub.messages.map((m) => JSON.parse(m.text));
      for (const p of payloads) assert.ok(Date.parse(p.timestamp) >= before - 1_000);
      return payloads.map(({ timestamp: _, ...values }) => values);
    };
    const first = await once();
    await new Promise((r) => setTimeout(r, 30)); // a later run, at another wall-clock time
    assert.deepEqual(await once(), first);
  });

  await t.step("runs until its signal aborts when no count or duration is given", async () => {
    await using sub = await subscribe(broker.url);
    const controller = new AbortController();
    const run = runSimulator({
      mqttUrl: broker.url,
      sensors: SENSORS,
      intervalMs: 30,
      signal: controller.signal,
    });
    await waitFor(() => sub.messages.length >= 3, 3_000, "3 messages");
    controller.abort();
    const summary = await within(5_000, run, "simulator stop");
    assert.ok(summary.published >= 3);
  });

  await t.step(
    "holds the schedule while the broker is down and finishes after it returns",
    async () => {
      const statuses: SimulatorStatus[] = [];
      let killed: Promise<void> | undefined;
      const run = runSimulator(
        { mqttUrl: broker.url, sensors: SENSORS, count: 30, intervalMs: 30, qos: 1 },
        {
          onStatus: (s) => {
            statuses.push(s);
            if (s.published >= 5 && !killed) killed = broker.kill();
          },
        },
      );
      await waitFor(() => statuses.some((s) => s.broker === "reconnecting"), 5_000, "reconnecting");
      await killed;
      await broker.restart();
      const summary = await within(10_000, run, "simulator after broker restart");
      assert.equal(summary.published + summary.failed, 30);
      assert.equal(statuses.at(-1)?.broker, "connected");
    },
  );

  await t.step("stops after its duration", async () => {
    const summary = await within(
      5_000,
      runSimulator({ mqttUrl: broker.url, sensors: SENSORS, intervalMs: 30, durationMs: 200 }),
    );
    assert.ok(summary.published >= 1);
  });
});

Deno.test("runSimulator fails with a StartupError when no broker listens", async () => {
  const url = `mqtt://127.0.0.1:${freePort()}`;
  await within(
    5_000,
    assert.rejects(
      runSimulator({ mqttUrl: url, sensors: SENSORS, count: 1, connectTimeoutMs: 1_000 }),
      (error: unknown) => {
        assert.ok(error instanceof StartupError);
        assert.match(error.message, /Cannot connect to MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+/);
        assert.match(error.message, /connection refused.*sensorstream serve/);
        return true;
      },
    ),
    "StartupError",
  );
});

Deno.test("runSimulator rejects bad options before connecting", async () => {
  const base = { mqttUrl: "mqtt://127.0.0.1:1", sensors: SENSORS };
  await assert.rejects(runSimulator({ ...base, intervalMs: 100, ratePerSec: 5 }), RangeError);
  await assert.rejects(runSimulator({ ...base, invalidRatio: 2 }), RangeError);
  await assert.rejects(runSimulator({ ...base, sensors: [] }), RangeError);
  await assert.rejects(runSimulator({ ...base, mqttUrl: "http://x" }), OptionError);
});

Deno.test("sensorstream simulate (in-process)", async (t) => {
  await t.step("a bad flag exits 2 with usage", async () => {
    const { io, out } = fakeIo();
    assert.equal(await runCli(["simulate", "--interval", "nonsense"], io), 2);
    assert.match(out.stderr, /nonsense/);
    assert.equal(await runCli(["simulate", "--interval", "1s", "--rate", "5"], io), 2);
    assert.match(out.stderr, /cannot be used with/);
  });

  await t.step("a bad MQTT_BROKER_URL exits 2 naming the variable", async () => {
    const { io, out } = fakeIo({ env: { MQTT_BROKER_URL: "http://nope" } });
    assert.equal(await runCli(["simulate", "--count", "1"], io), 2);
    assert.match(out.stderr, /MQTT_BROKER_URL/);
  });

  await t.step("--help shows examples", async () => {
    const { io, out } = fakeIo();
    assert.equal(await runCli(["simulate", "--help"], io), 0);
    assert.match(out.stdout, /Examples:[\s\S]*--time-scale 1440/);
  });

  await t.step("an unreachable broker exits 1 with a clear message", async () => {
    const { io, out } = fakeIo();
    const url = `mqtt://127.0.0.1:${freePort()}`;
    const code = await within(
      5_000,
      runCli(["simulate", "--mqtt-url", url, "--count", "1", "--connect-timeout", "500ms"], io),
    );
    assert.equal(code, 1);
    assert.match(
      out.stderr,
      /Cannot connect to MQTT broker at mqtt:\/\/127\.0\.0\.1.*connection refused/,
    );
  });

  await t.step("on a terminal it draws a live status line, then a summary", async () => {
    await using broker = await startMosquitto();
    const { io, out } = fakeIo({ isTerminal: true });
    const args = ["simulate", "--count", "5", "--interval", "20ms", "--seed", "1"];
    const code = await within(10_000, runCli([...args, "--mqtt-url", broker.url], io));
    assert.equal(code, 0);
    assert.match(
      out.stdout,
      // deno-lint-ignore no-control-regex -- the live line starts with "\r" + erase-line (ESC [K)
      /\r\x1b\[Kpublished \d+ \(\d+ invalid\) +[\d.]+ msg\/s +broker: connected/,
    );
    assert.match(out.stderr, /published 5 \(0 invalid\) in [\d.]+ s/);
  });

  await t.step("a bare host takes --mqtt-port, and MQTT_TOPIC sets the topic", async () => {
    await using broker = await startMosquitto();
    await using sub = await subscribe(broker.url, "farm/+/reading");
    const { io, out } = fakeIo({ env: { MQTT_TOPIC: "farm/+/reading", MQTT_BROKER_PORT: "1" } });
    const args = ["simulate", "--mqtt-url", "127.0.0.1", "--mqtt-port", String(broker.port)];
    const code = await within(
      10_000,
      runCli([...args, "--count", "2", "--interval", "20ms", "--sensors", "V9"], io),
    );
    assert.equal(code, 0, out.stderr);
    await waitFor(() => sub.messages.length >= 2, 3_000, "2 messages");
    assert.deepEqual(sub.messages.map((m) => m.topic), ["farm/V9/reading", "farm/V9/reading"]);
  });

  await t.step("a bad MQTT_BROKER_PORT or MQTT_TOPIC exits 2 naming the variable", async () => {
    for (const [name, value] of [["MQTT_BROKER_PORT", "http"], ["MQTT_TOPIC", "a/#"]]) {
      const { io, out } = fakeIo({ env: { [name!]: value! } });
      assert.equal(await runCli(["simulate", "--count", "1"], io), 2);
      assert.match(out.stderr, new RegExp(name!));
    }
  });

  await t.step("--quiet prints nothing on success", async () => {
    await using broker = await startMosquitto();
    const { io, out } = fakeIo({ isTerminal: true });
    const args = ["simulate", "--quiet", "--count", "3", "--interval", "10ms"];
    assert.equal(await within(10_000, runCli([...args, "--mqtt-url", broker.url], io)), 0);
    assert.equal(out.stdout + out.stderr, "");
  });
});

Deno.test("main.ts simulate publishes --count messages and exits 0", async () => {
  await using broker = await startMosquitto();
  await using sub = await subscribe(broker.url);
  const result = await runMain([
    "simulate",
    "--mqtt-url",
    broker.url,
    "--count",
    "5",
    "--interval",
    "50ms",
    "--seed",
    "1",
  ]);
  assert.equal(result.code, 0, result.stderr);
  await waitFor(() => sub.messages.length >= 5, 3_000, "5 messages");
  assert.equal(sub.messages.length, 5);
  assert.ok(sub.messages.every((m) => isValid(m.topic, m.text)));
  assert.match(result.stderr, /connected to MQTT broker[\s\S]*published 5 \(0 invalid\)/);
});
