/**
 * Commands over the WebSocket to the devices, with a real Mosquitto and a device played by an
 * MQTT client: published, acknowledged, followed to their end, shown to every viewer of the
 * sensor, refused with their reasons (publishing nothing), timed out, logged and counted.
 */
import assert from "node:assert/strict";
import type { ServerMessage } from "../protocol/mod.ts";
import { runSimulator } from "../sim/mod.ts";
import { startDevice } from "./_device.ts";
import {
  mintTestToken,
  recordingLogger,
  startMosquitto,
  waitFor,
  type WsProbe,
} from "./_helpers.ts";
import { connectClient, startTestServer } from "./_server.ts";

const IRRIGATE = { commands: ["irrigate"] };

function command(id: string, over: Record<string, unknown> = {}) {
  return {
    type: "command",
    id,
    sensor_id: "V1",
    action: "irrigate",
    params: { duration_s: 1 },
    ...over,
  };
}

/** The statuses `probe` got for command `id`, with reason or detail when there is one. */
function statusesOf(probe: WsProbe, id: string): string[] {
  return probe.of("command_status").filter((m) => m.data.id === id).map((m) => {
    const extra = m.data.reason ?? m.data.detail;
    return extra === undefined ? m.data.status : `${m.data.status}: ${extra}`;
  });
}

async function untilStatus(probe: WsProbe, id: string, status: string, ms = 3_000) {
  await probe.until(
    () => statusesOf(probe, id).some((s) => s.split(":")[0] === status),
    ms,
    `command ${id} ${status}`,
  );
}

function events(probe: WsProbe): Array<Extract<ServerMessage, { type: "command_event" }>["data"]> {
  return probe.of("command_event").map((m) => m.data);
}

async function connected(probe: WsProbe) {
  await probe.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
}

Deno.test("a permitted command reaches the device and is followed to done by every viewer", async () => {
  await using mosquitto = await startMosquitto();
  const { logger, lines } = recordingLogger();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } }, { logger });
  await using device = await startDevice(mosquitto.url, () => [
    { status: "accepted", after: 20 },
    { status: "done", detail: "moisture 31.0 -> 33.4", after: 50 },
  ]);
  const token = await mintTestToken(IRRIGATE, { sub: "alice" });
  await using alice = await connectClient(server, { token });
  await using viewer = await connectClient(server);
  await using onlyV2 = await connectClient(server, { claims: { sensors: ["V2"] } });
  await connected(alice);

  alice.send(command("c1", { params: { duration_s: 30 } }));
  await untilStatus(alice, "c1", "done");
  assert.deepEqual(statusesOf(alice, "c1"), [
    "sent",
    "accepted",
    "done: moisture 31.0 -> 33.4",
  ]);

  // What the device got: the protocol's payload, on V1's command topic.
  assert.equal(device.received.length, 1);
  const { topic, command: published } = device.received[0]!;
  assert.equal(topic, "sensors/V1/commands");
  assert.deepEqual(
    { ...published, issued_at: undefined },
    {
      id: "c1",
      action: "irrigate",
      params: { duration_s: 30 },
      issued_by: "alice",
      issued_at: undefined,
    },
  );
  assert.ok(Math.abs(Date.parse(published!.issued_at) - Date.now()) < 5_000);

  // Every client that sees V1 follows the valve; one that may not see V1 hears nothing.
  await viewer.until(() => events(viewer).length === 3, 3_000, "three command_events");
  assert.deepEqual(
    events(viewer).map((e) => [e.id, e.sensor_id, e.action, e.status, e.issued_by]),
    [
      ["c1", "V1", "irrigate", "sent", "alice"],
      ["c1", "V1", "irrigate", "accepted", "alice"],
      ["c1", "V1", "irrigate", "done", "alice"],
    ],
  );
  assert.deepEqual(events(alice).map((e) => e.status), ["sent", "accepted", "done"]);
  assert.equal(viewer.of("command_status").length, 0, "command_status goes to the issuer only");
  assert.equal(onlyV2.of("command_event").length, 0);

  // Logged with who, what and how it ended; never the token.
  const logged = lines.filter((l) => l.event.startsWith("command "));
  assert.deepEqual(logged.map((l) => l.event), [
    "command sent",
    "command accepted",
    "command done",
  ]);
  assert.deepEqual(
    { ...logged[2]!.fields },
    {
      id: "c1",
      sub: "alice",
      sensor: "V1",
      action: "irrigate",
      params: '{"duration_s":30}',
      detail: "moisture 31.0 -> 33.4",
    },
  );
  assert.ok(!JSON.stringify(lines).includes(token), "the token is never logged");

  const metrics = server.metrics.render();
  for (const outcome of ["sent", "accepted", "done"]) {
    assert.match(
      metrics,
      new RegExp(
        `^sensorstream_commands_total\\{action="irrigate",outcome="${outcome}"\\} 1$`,
        "m",
      ),
    );
  }
  assert.match(metrics, /^sensorstream_commands_total\{action="irrigate",outcome="rejected"\} 0$/m);
});

Deno.test("refused commands say why and publish nothing", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using device = await startDevice(mosquitto.url, () => [{ status: "accepted" }]);
  await using viewOnly = await connectClient(server);
  await using v2Only = await connectClient(server, {
    claims: { ...IRRIGATE, sensors: ["V2"] },
  });
  await using alice = await connectClient(server, { claims: IRRIGATE });
  await using bob = await connectClient(server, {
    token: await mintTestToken(IRRIGATE, { sub: "bob" }),
  });
  await connected(alice);

  viewOnly.send(command("a"));
  await untilStatus(viewOnly, "a", "rejected");
  assert.deepEqual(statusesOf(viewOnly, "a"), [
    'rejected: not permitted: your token may not issue "irrigate"',
  ]);

  v2Only.send(command("b"));
  await untilStatus(v2Only, "b", "rejected");
  assert.deepEqual(statusesOf(v2Only, "b"), ["rejected: not permitted: your token may not see V1"]);

  alice.send(command("c", { params: { duration_s: 0 } }));
  alice.send(command("d", { params: { duration_s: "30" } }));
  alice.send(command("e", { action: "drain" }));
  await untilStatus(alice, "e", "rejected");
  assert.deepEqual(
    [...statusesOf(alice, "c"), ...statusesOf(alice, "d")],
    Array(2).fill("rejected: invalid params: duration_s must be an integer from 1 to 3600"),
  );
  // The claim lists irrigate only: any other action is not permitted before it is unknown.
  assert.deepEqual(statusesOf(alice, "e"), [
    'rejected: not permitted: your token may not issue "drain"',
  ]);

  // Nothing was published for any of them: the first command the device gets is the good one.
  alice.send(command("f"));
  await untilStatus(alice, "f", "accepted");
  await device.until(1);
  assert.deepEqual(device.received.map((r) => r.command?.id), ["f"]);

  // A second command for V1 inside the interval: refused, whoever sends it.
  bob.send(command("g"));
  await untilStatus(bob, "g", "rejected");
  assert.match(
    statusesOf(bob, "g")[0]!,
    /^rejected: rate limited: one command per sensor every 5 s; V1 is free again in [1-5] s$/,
  );
  // Nothing was published for g: the next command the device gets is bob's for V2.
  bob.send(command("h", { sensor_id: "V2" }));
  await untilStatus(bob, "h", "accepted");
  await device.until(2);
  assert.deepEqual(device.received.map((r) => [r.command?.id, r.topic]), [
    ["f", "sensors/V1/commands"],
    ["h", "sensors/V2/commands"],
  ]);
  assert.deepEqual(events(bob).filter((e) => e.id === "f").map((e) => e.status), [
    "sent",
    "accepted",
  ]);
  assert.match(
    server.metrics.render(),
    /^sensorstream_commands_total\{action="irrigate",outcome="rejected"\} 5$/m,
  );
});

Deno.test("a device that does not answer: timeout, before and after accepted", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({
    mqtt: { url: mosquitto.url },
    commands: { timeoutMs: 300, intervalMs: 0 },
  });
  await using device = await startDevice(
    mosquitto.url,
    (c) => c.id === "late" ? [{ status: "accepted" }] : [],
  );
  await using alice = await connectClient(server, { claims: IRRIGATE });
  await using viewer = await connectClient(server);
  await connected(alice);

  const sentAt = Date.now();
  alice.send(command("silent"));
  await untilStatus(alice, "silent", "timeout");
  assert.ok(Date.now() - sentAt >= 300, "not before the command timeout");
  assert.deepEqual(statusesOf(alice, "silent"), ["sent", "timeout"]);
  await device.until(1);
  await viewer.until(() => events(viewer).some((e) => e.status === "timeout"));

  // Accepted, then silent: the end may come up to the duration (1 s) plus the timeout later.
  alice.send(command("late", { params: { duration_s: 1 } }));
  await untilStatus(alice, "late", "accepted");
  const acceptedAt = Date.now();
  await untilStatus(alice, "late", "timeout", 3_000);
  assert.ok(Date.now() - acceptedAt >= 1_000, "not before the irrigation could have ended");
  assert.deepEqual(statusesOf(alice, "late"), ["sent", "accepted", "timeout"]);
  assert.match(
    server.metrics.render(),
    /^sensorstream_commands_total\{action="irrigate",outcome="timeout"\} 2$/m,
  );
});

Deno.test("with the broker down a command is rejected: broker unavailable", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using alice = await connectClient(server, { claims: IRRIGATE });
  await connected(alice);
  await mosquitto.kill();
  await alice.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "disconnected")
  );
  alice.send(command("x"));
  await untilStatus(alice, "x", "rejected");
  assert.deepEqual(statusesOf(alice, "x"), ["rejected: broker unavailable"]);
  // It did not count toward the sensor's interval: once the broker is back, V1 takes a command.
  await mosquitto.restart();
  await alice.until(
    (m) => m.filter((x) => x.type === "bridge_status").at(-1)?.data.mqtt === "connected",
    5_000,
    "the link back up",
  );
  alice.send(command("y"));
  await untilStatus(alice, "y", "sent");
});

Deno.test("two instances on one broker: both show the valve, and hold V1 to one interval", async () => {
  await using mosquitto = await startMosquitto();
  await using one = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using two = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using _device = await startDevice(mosquitto.url, () => [
    { status: "accepted" },
    { status: "done", after: 30 },
  ]);
  await using alice = await connectClient(one, { claims: IRRIGATE });
  await using elsewhere = await connectClient(two, { claims: IRRIGATE });
  await connected(alice);
  await connected(elsewhere);

  alice.send(command("c1"));
  await untilStatus(alice, "c1", "done");
  await elsewhere.until(
    () => events(elsewhere).length === 3,
    3_000,
    "events on the other instance",
  );
  assert.deepEqual(events(elsewhere).map((e) => e.status), ["sent", "accepted", "done"]);

  elsewhere.send(command("c2"));
  await untilStatus(elsewhere, "c2", "rejected");
  assert.match(statusesOf(elsewhere, "c2")[0]!, /rate limited/);
});

Deno.test("a refreshed token's commands claim is the client's new limit", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using client = await connectClient(server, {
    token: await mintTestToken({}, { sub: "carol" }),
  });
  await connected(client);
  client.send(command("before"));
  await untilStatus(client, "before", "rejected");
  client.send({ type: "refresh", token: await mintTestToken(IRRIGATE, { sub: "carol" }) });
  await client.next("token_refreshed");
  client.send(command("after"));
  await untilStatus(client, "after", "sent");
});

Deno.test("the simulator irrigates V1: done reaches the client, and V1's moisture rises", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  const stop = new AbortController();
  const simulation = runSimulator({
    mqttUrl: mosquitto.url,
    sensors: ["V1", "V2"],
    intervalMs: 100,
    signal: stop.signal,
  });
  try {
    await using alice = await connectClient(server, { claims: IRRIGATE });
    await connected(alice);
    const moisture = (sensor: string) =>
      alice.of("sensor_reading").filter((m) => m.data.sensor_id === sensor).map((m) =>
        m.data.moisture
      );
    await alice.until(() => moisture("V1").length >= 10, 5_000, "V1 readings");
    const before = moisture("V1").slice(-5);
    alice.send(command("water", { params: { duration_s: 3 } }));
    await untilStatus(alice, "water", "done", 8_000);
    const statuses = statusesOf(alice, "water");
    assert.deepEqual(statuses.map((s) => s.split(":")[0]), ["sent", "accepted", "done"]);
    const seen = moisture("V1").length;
    await alice.until(() => moisture("V1").length >= seen + 5, 5_000, "V1 readings after");
    const after = moisture("V1").slice(seen, seen + 5);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rise = mean(after) - mean(before);
    assert.ok(rise >= 0.5, `V1 moisture rose ${rise.toFixed(2)} (${before} -> ${after})`);
    // Only V1's valve moved.
    assert.ok(!events(alice).some((e) => e.sensor_id === "V2"));
  } finally {
    stop.abort();
    await simulation;
  }
});

Deno.test("acks: a repeated accepted and acks of no command are logged and counted, not forwarded", async () => {
  await using mosquitto = await startMosquitto();
  const { logger, lines } = recordingLogger();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } }, { logger });
  await using device = await startDevice(mosquitto.url, () => [
    { status: "accepted" },
    { status: "accepted", after: 20 },
    { status: "done", after: 20 },
    { status: "done", after: 20 },
  ]);
  await using alice = await connectClient(server, { claims: IRRIGATE });
  await connected(alice);
  alice.send(command("c1"));
  await untilStatus(alice, "c1", "done");
  await device.until(1);
  const ignored = () =>
    lines.filter((l) => l.event === "command ack ignored").map((l) => l.fields["status"]);
  await waitFor(() => ignored().length === 2, 3_000, "two ignored acks");
  assert.deepEqual(ignored(), ["accepted", "done"]);
  assert.deepEqual(statusesOf(alice, "c1"), ["sent", "accepted", "done"]);
  assert.match(server.metrics.render(), /^sensorstream_command_acks_ignored_total 2$/m);
});

Deno.test("a client that joins while a valve is open is told at once", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using _device = await startDevice(mosquitto.url, () => [{ status: "accepted" }]);
  await using alice = await connectClient(server, { claims: IRRIGATE });
  await connected(alice);
  alice.send(command("c1", { params: { duration_s: 600 } }));
  await untilStatus(alice, "c1", "accepted");
  await using late = await connectClient(server);
  await using onlyV2 = await connectClient(server, { claims: { sensors: ["V2"] } });
  await late.until(() => events(late).length > 0, 3_000, "the open valve");
  assert.deepEqual(
    events(late).map((e) => [e.id, e.status, e.issued_by]),
    [["c1", "accepted", "tester"]],
  );
  // A pong comes after everything the server sent before it: no valve for a V2-only client.
  onlyV2.send({ type: "ping" });
  await onlyV2.next("pong");
  assert.equal(events(onlyV2).length, 0);
});

Deno.test("a refresh without the commands claim takes the right to command away", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using client = await connectClient(server, {
    token: await mintTestToken(IRRIGATE, { sub: "carol" }),
  });
  await connected(client);
  client.send({ type: "refresh", token: await mintTestToken({}, { sub: "carol" }) });
  await client.next("token_refreshed");
  client.send(command("after"));
  await untilStatus(client, "after", "rejected");
  assert.deepEqual(statusesOf(client, "after"), [
    'rejected: not permitted: your token may not issue "irrigate"',
  ]);
});
