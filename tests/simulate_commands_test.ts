/** `simulate` answers irrigate commands on its sensors' command topics, into a real Mosquitto. */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { CliIo } from "../cli/io.ts";
import { runCli } from "../cli/mod.ts";
import { hasControl } from "../lib/sanitize.ts";
import {
  type CommandAck,
  CommandAckSchema,
  commandAckTopicOf,
  commandFilter,
  DEFAULT_COMMAND_TOPIC,
  sensorIdFromTopic,
  SensorPayloadSchema,
  topicMatcher,
} from "../protocol/mod.ts";
import {
  type CommandCounts,
  runSimulator,
  type SimulatorOptions,
  type SimulatorStatus,
} from "../sim/mod.ts";
import { recordingLogger, startMosquitto, waitFor, within } from "./_helpers.ts";

/**
 * The server's side of the field: publishes commands (QoS 1), keeps every ack and every
 * reading's moisture, and fails on an ack outside the protocol.
 */
async function field(url: string, commandTemplate = DEFAULT_COMMAND_TOPIC) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  const ackFilter = commandFilter(commandAckTopicOf(commandTemplate));
  const sensorOfAck = topicMatcher(ackFilter);
  const acks: Array<{ sensor: string; ack: CommandAck }> = [];
  const notAcks: string[] = [];
  const readings: Array<{ sensor: string; moisture: number }> = [];
  client.on("message", (topic, payload) => {
    const json = JSON.parse(payload.toString());
    const sensor = sensorOfAck(topic);
    if (sensor === undefined) {
      const { moisture } = SensorPayloadSchema.parse(json);
      readings.push({ sensor: sensorIdFromTopic(topic)!, moisture });
      return;
    }
    const ack = CommandAckSchema.safeParse(json);
    if (ack.success) acks.push({ sensor, ack: ack.data });
    else notAcks.push(payload.toString());
  });
  await client.subscribeAsync([ackFilter, "sensors/+/data"], { qos: 1 });
  const moistureOf = (sensor: string) =>
    readings.filter((r) => r.sensor === sensor).map((r) => r.moisture);
  return {
    acks,
    /** Publishes `command` on `sensor`'s command topic. */
    async send(sensor: string, command: unknown): Promise<void> {
      const text = typeof command === "string" ? command : JSON.stringify(command);
      await client.publishAsync(commandTemplate.replace("{id}", sensor), text, { qos: 1 });
    },
    /** The acks of command `id`, in arrival order. */
    acksOf(id: string): CommandAck[] {
      return acks.filter((a) => a.ack.id === id).map((a) => a.ack);
    },
    /** Waits until command `id` has `count` acks. */
    async untilAcks(id: string, count: number, ms = 5_000): Promise<CommandAck[]> {
      await waitFor(() => this.acksOf(id).length >= count, ms, `${count} acks of ${id}`);
      return this.acksOf(id);
    },
    /** Waits for `n` more readings of `sensor` than now. */
    async moreReadings(sensor: string, n: number): Promise<void> {
      const seen = moistureOf(sensor).length;
      await waitFor(() => moistureOf(sensor).length >= seen + n, 5_000, `${n} readings`);
    },
    /** Mean moisture of the last `n` readings of `sensor`. */
    meanMoisture(sensor: string, n: number): number {
      const last = moistureOf(sensor).slice(-n);
      assert.equal(last.length, n, `${n} readings of ${sensor}`);
      return last.reduce((a, b) => a + b, 0) / n;
    },
    async [Symbol.asyncDispose]() {
      await client.endAsync();
      assert.deepEqual(notAcks, [], "acks outside the protocol");
    },
  };
}

/** A command as serve publishes it. */
function irrigate(id: string, durationS: number, by = "alice") {
  return {
    id,
    action: "irrigate",
    params: { duration_s: durationS },
    issued_by: by,
    issued_at: new Date().toISOString(),
  };
}

/** A running `runSimulator` (V1 and V2, 10 readings a second each), stopped by its signal. */
function simulator(url: string, options: Partial<SimulatorOptions> = {}) {
  const stop = new AbortController();
  const { logger, lines } = recordingLogger();
  const statuses: SimulatorStatus[] = [];
  const run = runSimulator({
    mqttUrl: url,
    sensors: ["V1", "V2"],
    intervalMs: 100,
    seed: 1,
    qos: 1,
    signal: stop.signal,
    ...options,
  }, { logger, onStatus: (s) => statuses.push(s) });
  return {
    lines,
    statuses,
    /** Log events matching `pattern`. */
    said: (pattern: RegExp) => lines.filter((l) => pattern.test(l.event)),
    stop: async () => {
      stop.abort();
      return await within(5_000, run, "simulator stop");
    },
    async [Symbol.asyncDispose]() {
      stop.abort();
      await run.catch(() => {});
    },
  };
}

const counts = (c: Partial<CommandCounts>): CommandCounts => ({
  received: 0,
  accepted: 0,
  done: 0,
  failed: 0,
  unanswered: 0,
  malformed: 0,
  ...c,
});

Deno.test("simulate answers irrigate commands for its own sensors", async (t) => {
  await using broker = await startMosquitto();
  await using f = await field(broker.url);
  // V2 is offline (a planned outage) for the whole test.
  await using sim = simulator(broker.url, {
    outages: [{ sensorId: "V2", startMs: 0, durationMs: 600_000 }],
  });
  await f.moreReadings("V1", 5); // subscribed before the first reading

  await t.step("accepted, then done with the same id; V1's moisture rises", async () => {
    const before = f.meanMoisture("V1", 5);
    await f.send("V1", irrigate("c1", 2));
    const [accepted, done] = await f.untilAcks("c1", 2);
    assert.deepEqual(accepted, { id: "c1", status: "accepted", detail: "valve open for 2 s" });
    assert.equal(done?.status, "done");
    assert.match(done?.detail ?? "", /^moisture \d+\.\d → \d+\.\d %, \+\d\.\d$/);
    await f.moreReadings("V1", 5);
    const after = f.meanMoisture("V1", 5);
    assert.ok(after - before >= 0.5, `moisture ${before} → ${after}`);
    assert.ok(sim.statuses.some((s) => s.irrigating.includes("V1")), "status names V1");
    assert.deepEqual(sim.statuses.at(-1)?.irrigating, []);
    assert.deepEqual(sim.said(/^V1 irrigate 2 s \(id c1, by alice\): /).map((l) => l.event), [
      "V1 irrigate 2 s (id c1, by alice): accepted — valve open for 2 s",
      `V1 irrigate 2 s (id c1, by alice): done — ${done?.detail}`,
    ]);
  });

  await t.step(
    "while irrigating, another command fails; a redelivered one is not rerun",
    async () => {
      await f.send("V1", irrigate("c2", 1));
      await f.send("V1", irrigate("c2", 1)); // QoS 1 may deliver twice
      await f.send("V1", irrigate("c3", 5, "bob"));
      const [busy] = await f.untilAcks("c3", 1);
      assert.equal(busy?.status, "failed");
      assert.match(busy?.detail ?? "", /^already irrigating \([12] s left\)$/);
      const c2 = await f.untilAcks("c2", 2);
      assert.deepEqual(c2.map((a) => a.status), ["accepted", "done"]);
      assert.equal(sim.said(/id c2.*not answered — answered already: a redelivery/).length, 1);
    },
  );

  await t.step("a station in a planned outage stays silent", async () => {
    await f.send("V2", irrigate("d1", 1));
    await f.send("V1", { ...irrigate("s1", 1), action: "dance" }); // answered at once
    const [sentinel] = await f.untilAcks("s1", 1);
    assert.deepEqual(sentinel, {
      id: "s1",
      status: "failed",
      detail: 'unknown action "dance"; this station knows irrigate',
    });
    assert.deepEqual(f.acksOf("d1"), []);
    assert.equal(sim.said(/^V2 irrigate 1 s \(id d1.*not answered — offline/).length, 1);
  });

  await t.step("a command for a sensor it does not simulate: nothing", async () => {
    await f.send("V9", irrigate("n1", 1));
    await f.send("V1", { ...irrigate("s2", 1), action: "dance" });
    await f.untilAcks("s2", 1);
    assert.deepEqual(f.acksOf("n1"), []);
    assert.deepEqual(sim.said(/V9|n1/), []);
  });

  await t.step("malformed payloads: ignored, one sanitized log line, the run goes on", async () => {
    await f.send("V1", "\x1b[2J\x1b]0;pwned\x07{not json");
    await f.send("V1", JSON.stringify({ id: "big", pad: "x".repeat(5_000) }));
    await f.send("V1", JSON.stringify({ action: "irrigate", note: "\u202e no id" }));
    await f.send("V1", { ...irrigate("s3", 1), action: "dance" });
    await f.untilAcks("s3", 1);
    assert.deepEqual(f.acksOf("big"), []);
    const logged = sim.lines.filter((l) => l.event === "ignored a malformed command");
    assert.equal(logged.length, 1, "rate-limited: one line");
    const fields = logged[0]!.fields;
    assert.equal(fields.sensor, "V1");
    assert.match(String(fields.reason), /^not JSON: /);
    for (const value of Object.values(fields)) {
      assert.ok(!hasControl(String(value)), `raw control characters in ${value}`);
      assert.ok(String(value).length <= 1_000, "clipped");
    }
    assert.match(String(fields.payload), /^\\x1b\[2J\\x1b\]0;pwned\\x07\{not json$/);
    await f.moreReadings("V1", 3);
  });

  await t.step("a valve open when the run stops closes, and its command fails", async () => {
    await f.send("V1", irrigate("c9", 30));
    await f.untilAcks("c9", 1);
    const summary = await sim.stop();
    const [, stopped] = await f.untilAcks("c9", 2);
    assert.equal(stopped?.status, "failed");
    assert.match(stopped?.detail ?? "", /^simulator stopped after \d\.\d of 30 s, moisture /);
    assert.deepEqual(
      summary.commands,
      counts({ received: 12, accepted: 3, done: 2, failed: 5, unanswered: 2, malformed: 3 }),
    );
  });
});

/** A CliIo that collects output; `stop()` is Ctrl-C. */
function fakeIo(env: Record<string, string> = {}) {
  const controller = new AbortController();
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
    env: (name) => env[name],
    isTerminal: true,
    columns: 200,
    signal: controller.signal,
  };
  return { io, out, stop: () => controller.abort() };
}

Deno.test("simulate --command-reply", async (t) => {
  await using broker = await startMosquitto();
  const base = ["simulate", "--mqtt-url", broker.url, "--sensors", "V1", "--interval", "100ms"];

  await t.step("fail: accepted, then failed (valve stuck), and no rise", async () => {
    const template = "farm/{id}/cmd";
    await using f = await field(broker.url, template);
    const { io, out, stop } = fakeIo();
    const run = runCli([...base, "--command-reply", "fail", "--command-topic", template], io);
    try {
      await f.moreReadings("V1", 5);
      const before = f.meanMoisture("V1", 5);
      await f.send("V1", irrigate("f1", 3, "bob"));
      const acks = await f.untilAcks("f1", 2);
      assert.deepEqual(acks, [
        { id: "f1", status: "accepted", detail: "valve open for 3 s" },
        { id: "f1", status: "failed", detail: "valve stuck: no flow" },
      ]);
      await f.moreReadings("V1", 5);
      assert.ok(f.meanMoisture("V1", 5) - before < 0.5, "no water came");
    } finally {
      stop();
    }
    assert.equal(await within(5_000, run), 0, out.stderr);
    assert.match(out.stderr, /V1 irrigate 3 s \(id f1, by bob\): accepted — valve open for 3 s/);
    assert.match(out.stderr, /V1 irrigate 3 s \(id f1, by bob\): failed — valve stuck: no flow/);
    assert.match(out.stderr, /published \d+ .*; commands: 1 received, 1 accepted, 1 failed/);
    assert.match(out.stdout, /broker: connected {2}irrigating: V1/, "the live line names it");
  });

  await t.step("silent (from the environment): no ack, while readings keep flowing", async () => {
    await using f = await field(broker.url);
    const { io, out, stop } = fakeIo({ SIMULATE_COMMAND_REPLY: "silent" });
    const run = runCli(base, io);
    try {
      await f.moreReadings("V1", 2);
      await f.send("V1", irrigate("q1", 1));
      await waitFor(() => /id q1.*not answered/.test(out.stderr), 3_000, "the not-answered line");
      await f.moreReadings("V1", 10);
      assert.deepEqual(f.acks, []);
    } finally {
      stop();
    }
    assert.equal(await within(5_000, run), 0, out.stderr);
    assert.match(
      out.stderr,
      /V1 irrigate 1 s \(id q1, by alice\): not answered — command replies are silent/,
    );
    assert.match(out.stderr, /commands: 1 received, 1 unanswered/);
  });

  await t.step("off: not listening for commands at all", async () => {
    await using f = await field(broker.url);
    const { io, out, stop } = fakeIo();
    const run = runCli([...base, "--command-reply", "off"], io);
    try {
      await f.moreReadings("V1", 2);
      await f.send("V1", irrigate("o1", 1));
      await f.moreReadings("V1", 10);
      assert.deepEqual(f.acks, []);
    } finally {
      stop();
    }
    assert.equal(await within(5_000, run), 0, out.stderr);
    assert.doesNotMatch(out.stderr, /o1|commands:/);
  });

  await t.step("bad values exit 2 naming the option", async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["--command-reply", "maybe"], {}, /--command-reply.*'maybe' is invalid/],
      [[], { SIMULATE_COMMAND_REPLY: "maybe" }, /SIMULATE_COMMAND_REPLY: 'maybe' is not one of/],
      [["--command-topic", "cmd/+/x"], {}, /--command-topic.*must not contain/],
      [
        ["--command-topic", "c/{id}", "--command-ack-topic", "c/{id}"],
        {},
        /--command-ack-topic \/ COMMAND_ACK_TOPIC must differ from --command-topic/,
      ],
      [
        ["--command-topic", "sensors/{id}/data"],
        {},
        /--command-topic \/ COMMAND_TOPIC 'sensors\/\{id\}\/data' would mix with the readings/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const { io, out } = fakeIo(env);
      const code = await runCli(["simulate", "--mqtt-url", "mqtt://127.0.0.1:1", ...args], io);
      assert.equal(code, 2, out.stderr);
      assert.match(out.stderr, message);
    }
  });
});
