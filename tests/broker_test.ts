/** The embedded broker: packet size limit, retained bounds, logins, and surviving bad clients. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { type EmbeddedBroker, startEmbeddedBroker } from "../server/broker.ts";
import {
  MAX_MQTT_PACKET_BYTES,
  MAX_RETAINED_BYTES,
  PacketSizeGuard,
  RetainedBudget,
} from "../server/broker_limits.ts";
import { rawMqtt, readUntilClosed, recordingLogger, waitFor, within } from "./_helpers.ts";

const quick = { reconnectPeriod: 0, connectTimeout: 3_000 } as const;

/** An MQTT.js subscriber that records what it receives on `filter`. */
async function subscriber(url: string, filter: string, options: mqtt.IClientOptions = {}) {
  const client = await mqtt.connectAsync(url, { ...quick, ...options });
  const got: Array<{ topic: string; payload: Uint8Array; retain: boolean }> = [];
  client.on(
    "message",
    (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }),
  );
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got };
}

/** Opens a raw TCP connection to the broker. */
function raw(broker: EmbeddedBroker): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: broker.addr.port });
}

Deno.test("PacketSizeGuard follows MQTT framing across chunks and flags an oversized header", async (t) => {
  const small = rawMqtt.publish("a/b", "x".repeat(300));
  await t.step("whole packets, split anywhere, pass", () => {
    const guard = new PacketSizeGuard(1_000);
    const stream = new Uint8Array([...small, ...small, 0xc0, 0x00, ...small]);
    for (const cut of [1, 2, 3, 150, 305, 306, stream.length - 1]) {
      assert.equal(guard.scan(stream.subarray(0, cut)), undefined);
      assert.equal(guard.scan(stream.subarray(cut)), undefined);
    }
  });
  await t.step("a header announcing more than the limit is flagged before its body", () => {
    const guard = new PacketSizeGuard(MAX_MQTT_PACKET_BYTES);
    assert.equal(guard.scan(small), undefined);
    // PUBLISH with a remaining length of 1 MiB (varint 80 80 40), no body yet.
    assert.deepEqual(guard.scan(Uint8Array.of(0x30, 0x80, 0x80)), undefined);
    assert.deepEqual(guard.scan(Uint8Array.of(0x40)), {
      kind: "too_large",
      bytes: 1 + 3 + 2 ** 20,
    });
  });
  await t.step("the limit counts the fixed header too", () => {
    const body = MAX_MQTT_PACKET_BYTES - 4; // 1 header byte + 3 length bytes
    assert.equal(new PacketSizeGuard().scan(rawMqtt.packet(0x30, new Uint8Array(body))), undefined);
    const over = new PacketSizeGuard().scan(rawMqtt.packet(0x30, new Uint8Array(body + 1)));
    assert.deepEqual(over, { kind: "too_large", bytes: MAX_MQTT_PACKET_BYTES + 1 });
  });
  await t.step("a remaining length longer than four bytes is malformed", () => {
    assert.deepEqual(new PacketSizeGuard().scan(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff)), {
      kind: "malformed",
    });
  });
});

Deno.test("RetainedBudget keeps within its limits and forgets a topic whose new value does not fit", () => {
  const budget = new RetainedBudget({ maxTopics: 2, maxBytes: 100 });
  assert.ok(budget.admit("t/1", 40)); // 43 bytes with the topic
  assert.ok(budget.admit("t/2", 10));
  assert.equal(budget.admit("t/3", 1), false, "a third topic is over the topic limit");
  assert.ok(budget.admit("t/2", 50), "replacing a value frees the old one first");
  assert.deepEqual([budget.topics, budget.bytes], [2, 96]);
  assert.equal(budget.admit("t/2", 60), false, "over the byte limit");
  assert.deepEqual([budget.topics, budget.bytes], [1, 43], "t/2's stale value is forgotten");
  assert.ok(budget.admit("t/1", 0), "clearing is always allowed");
  assert.deepEqual([budget.topics, budget.bytes], [0, 0]);
});

Deno.test("the embedded broker closes a connection whose packet header announces over 64 KiB, before the body", async () => {
  const { logger, lines } = recordingLogger();
  await using broker = await startEmbeddedBroker({ port: 0, logger });
  const conn = await raw(broker);
  const header = Uint8Array.of(0x30, 0x80, 0x80, 0x40); // PUBLISH, remaining length 1 MiB
  await conn.write(
    new Uint8Array([...rawMqtt.connect("big"), ...header, ...new Uint8Array(1_000)]),
  );
  // Without the limit aedes would wait for the other ~1 MB (keepalive 0: forever).
  await readUntilClosed(conn, 2_000);
  await waitFor(() => lines.some((l) => /refused/.test(String(l.fields.error))), 2_000, "log");
  const line = lines.find((l) => /refused/.test(String(l.fields.error)))!;
  assert.equal(line.level, "warn");
  assert.match(String(line.fields.error), /1048580 bytes refused: .* at most 65536/);
});

Deno.test("through MQTT.js: a publish just under 64 KiB is delivered, one just over cuts the publisher off", async () => {
  await using broker = await startEmbeddedBroker({ port: 0 });
  const sub = await subscriber(broker.url, "big/#");
  const pub = await mqtt.connectAsync(broker.url, quick);
  try {
    // Header byte, 3 length bytes, 2 + 6 for the topic "big/ok": exactly the limit.
    const fits = new Uint8Array(MAX_MQTT_PACKET_BYTES - 1 - 3 - 2 - "big/ok".length);
    await pub.publishAsync("big/ok", Buffer.from(fits), { qos: 0 });
    await waitFor(() => sub.got.length === 1, 3_000, "the 64 KiB message");
    assert.equal(sub.got[0]!.payload.byteLength, fits.byteLength);

    const closed = new Promise<void>((resolve) => pub.once("close", () => resolve()));
    pub.publish("big/over", Buffer.from(new Uint8Array(fits.byteLength + 1)), { qos: 0 });
    await within(3_000, closed, "the broker closing the publisher");
    // The marker proves the broker kept working, and that nothing else was on its way.
    await sub.client.publishAsync("big/marker", "m", { qos: 1 });
    await waitFor(() => sub.got.length === 2, 3_000, "the marker");
    assert.deepEqual(sub.got.map((m) => m.topic), ["big/ok", "big/marker"]);
  } finally {
    await pub.endAsync(true);
    await sub.client.endAsync();
  }
});

Deno.test("garbage, half-sent packets and vanishing clients neither crash the broker nor flood its log", async () => {
  const { logger, lines } = recordingLogger();
  await using broker = await startEmbeddedBroker({ port: 0, logger });
  const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  for (let i = 0; i < 20; i++) {
    const conn = await raw(broker);
    await conn.write(garbage);
    await readUntilClosed(conn); // the broker hangs up on each one
  }
  // A CONNECT cut off mid-packet, and a client gone in the middle of a PUBLISH.
  const half = await raw(broker);
  await half.write(rawMqtt.connect("half").subarray(0, 8));
  half.close();
  const gone = await raw(broker);
  await gone.write(rawMqtt.connect("gone"));
  await gone.write(rawMqtt.publish("x/y", "z".repeat(500)).subarray(0, 100));
  gone.close();

  const sub = await subscriber(broker.url, "after/#");
  try {
    await sub.client.publishAsync("after/ok", "1", { qos: 1 });
    await waitFor(() => sub.got.length === 1, 3_000, "a message after the garbage");
  } finally {
    await sub.client.endAsync();
  }
  const dropped = lines.filter((l) =>
    l.event.startsWith("embedded MQTT broker dropped a connection")
  );
  assert.equal(dropped.length, 1, "20 garbage connections within the interval: one line");
  assert.ok(lines.every((l) => l.level !== "error"));
});

Deno.test("with a username, the embedded broker admits only the exact credentials", async (t) => {
  await using broker = await startEmbeddedBroker({
    port: 0,
    username: "sensor",
    password: "s3cret-pass",
  });
  const attempt = async (login: { username?: string; password?: string }) => {
    try {
      const c = await mqtt.connectAsync(broker.url, { ...quick, ...login });
      await c.endAsync();
      return 0;
    } catch (error) {
      return (error as { code?: number }).code;
    }
  };
  await t.step("right ones are accepted", async () => {
    assert.equal(await attempt({ username: "sensor", password: "s3cret-pass" }), 0);
  });
  for (
    const [name, login] of [
      ["none", {}],
      ["wrong password", { username: "sensor", password: "s3cret-pasS" }],
      ["no password", { username: "sensor" }],
      ["wrong username", { username: "sensor2", password: "s3cret-pass" }],
    ] as const
  ) {
    await t.step(`${name}: CONNACK 4, bad username or password`, async () => {
      assert.equal(await attempt(login), 4);
    });
  }
});

Deno.test("a refused client's pipelined SUBSCRIBE and retained PUBLISH are never processed", async () => {
  await using broker = await startEmbeddedBroker({ port: 0, username: "u", password: "p" });
  const sub = await subscriber(broker.url, "locked/#", { username: "u", password: "p" });
  try {
    const conn = await raw(broker);
    await conn.write(
      new Uint8Array([
        ...rawMqtt.connect("intruder", { username: "u", password: "guess" }),
        ...rawMqtt.subscribe("locked/#"),
        ...rawMqtt.publish("locked/door", "open", { retain: true }),
      ]),
    );
    // Only CONNACK "bad user name or password", then the broker hangs up: no SUBACK, no echo.
    assert.deepEqual([...await readUntilClosed(conn)], [0x20, 0x02, 0x00, 0x04]);
    assert.equal(broker.retained.topics, 0);
    await sub.client.publishAsync("locked/marker", "m", { qos: 1 });
    await waitFor(() => sub.got.length === 1, 3_000, "the marker");
    assert.deepEqual(sub.got.map((m) => m.topic), ["locked/marker"]);
  } finally {
    await sub.client.endAsync();
  }
});

Deno.test("a password without a username, or an empty username, fails before the broker starts", async () => {
  await assert.rejects(startEmbeddedBroker({ port: 0, password: "p" }), TypeError);
  await assert.rejects(startEmbeddedBroker({ port: 0, username: "" }), TypeError);
});

Deno.test("retained messages past the byte cap are delivered but not stored, with one warning", async () => {
  const { logger, lines } = recordingLogger();
  await using broker = await startEmbeddedBroker({ port: 0, logger });
  const payload = Buffer.from(new Uint8Array(60 * 1024));
  const perMessage = payload.byteLength + "cap/000".length;
  const fit = Math.floor(MAX_RETAINED_BYTES / perMessage);
  const sub = await subscriber(broker.url, "cap/#");
  let pub: MqttClient | undefined;
  try {
    pub = await mqtt.connectAsync(broker.url, quick);
    for (let i = 0; i <= fit + 1; i++) {
      await pub.publishAsync(`cap/${String(i).padStart(3, "0")}`, payload, {
        qos: 1,
        retain: true,
      });
    }
    await waitFor(() => sub.got.length === fit + 2, 5_000, "every message delivered live");
    assert.equal(broker.retained.topics, fit);
    assert.ok(broker.retained.bytes <= MAX_RETAINED_BYTES);
    const full = lines.filter((l) => /retained store full/.test(l.event));
    assert.equal(full.length, 1, "two refusals within the interval: one line");

    // Clearing a topic makes room again, and what is stored is what a new subscriber gets.
    await pub.publishAsync("cap/000", "", { qos: 1, retain: true });
    await pub.publishAsync("cap/late", "kept", { qos: 1, retain: true });
    // aedes stores a retained message before delivering it live.
    await waitFor(() => sub.got.some((m) => m.topic === "cap/late"), 3_000, "cap/late stored");
    assert.equal(broker.retained.topics, fit);
    const late = await subscriber(broker.url, "cap/late");
    try {
      await waitFor(() => late.got.length === 1, 3_000, "the retained cap/late");
      assert.deepEqual([late.got[0]!.retain, new TextDecoder().decode(late.got[0]!.payload)], [
        true,
        "kept",
      ]);
    } finally {
      await late.client.endAsync();
    }
  } finally {
    await pub?.endAsync();
    await sub.client.endAsync();
  }
});
