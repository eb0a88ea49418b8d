/** The WebSocket handshake: who gets in, who is closed with 1008 and why. */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { mintTestToken, publish, recordingLogger, TEST_SECRET, within } from "./_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

function unsignedToken(): string {
  const enc = (o: unknown) =>
    btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-")
      .replace(/\//g, "_");
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "mallory", exp: now + 3600 })}.`;
}

Deno.test("bad tokens are accepted then closed with 1008 and a reason saying which", async (t) => {
  await using server = await startTestServer();
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string | null, string]> = [
    ["missing token", null, "missing token"],
    ["empty token", "", "missing token"],
    ["malformed token", "not.a.jwt", "invalid token"],
    [
      "badly signed token",
      await mintTestToken({}, { secret: "another-secret-another-secret-0123456" }),
      "invalid token",
    ],
    ["expired token", await mintTestToken({}, { expiresIn: now - 120 }), "token expired"],
    [
      "not-yet-valid token",
      await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setNotBefore(now + 600)
        .setExpirationTime(now + 3600).sign(new TextEncoder().encode(TEST_SECRET)),
      "invalid token",
    ],
    ["alg none token", unsignedToken(), "invalid token"],
  ];
  for (const [name, token, reason] of cases) {
    await t.step(`${name} -> 1008 "${reason}"`, async () => {
      const probe = await connectClient(server, { token });
      const closed = await within(3_000, probe.closed, "close");
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, reason);
      assert.equal(probe.of("sensor_reading").length, 0);
      assert.equal(probe.of("connection_status").length, 0);
    });
  }
  assert.equal(server.metrics.rejections.get("missing token"), 2);
  assert.equal(server.metrics.rejections.get("token expired"), 1);
  assert.equal(server.metrics.rejections.get("invalid token"), 4);
});

Deno.test("a valid token gets connection_status, then bridge_status", async () => {
  await using server = await startTestServer();
  await using probe = await connectClient(server);
  await probe.until((m) => m.length >= 2, 3_000, "two messages");
  const [first, second] = probe.messages;
  assert.equal(first?.type, "connection_status");
  if (first?.type !== "connection_status") return;
  assert.match(first.data.client_id, /^[0-9a-f]{8}$/);
  assert.equal(first.data.active_clients, 1);
  assert.equal(second?.type, "bridge_status");
  assert.deepEqual(probe.invalid, []);
});

Deno.test("the token's sensors claim limits what the client can ever see", async () => {
  await using server = await startTestServer();
  await using limited = await connectClient(server, { claims: { sensors: ["V1"] } });
  await using everyone = await connectClient(server);
  await limited.next("connection_status");
  // Asking for more than the token allows still yields only what it allows.
  limited.send({ type: "subscribe", sensors: ["V1", "V2"] });
  const subs = await limited.next("subscriptions");
  assert.deepEqual(subs.data.sensors, ["V1"]);
  await everyone.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  await publish(server.mqttUrl, [
    { topic: "sensors/V2/data", payload: payload() },
    { topic: "sensors/V1/data", payload: payload() },
  ]);
  await everyone.until((m) => m.filter((x) => x.type === "sensor_reading").length === 2);
  // V2 was published first, so once V1 arrived V2 would have too, had it been let through.
  await limited.until((m) => m.some((x) => x.type === "sensor_reading"));
  assert.deepEqual(limited.of("sensor_reading").map((r) => r.data.sensor_id), ["V1"]);
});

Deno.test("asking at connect for sensors the token excludes gets an error saying so", async () => {
  await using server = await startTestServer();
  await using probe = await connectClient(server, {
    claims: { sensors: ["V1", "V3"] },
    sensors: "V2",
  });
  const error = await probe.next("error");
  assert.equal(error.data.code, "invalid_message");
  assert.match(error.data.message, /not permitted by your token: V2; it may see V1, V3/);
  assert.equal(probe.ws.readyState, WebSocket.OPEN);
});

Deno.test("a client whose token expires while connected is closed with 1008 token expired", async () => {
  // Token time runs on the injected clock: the test moves it instead of waiting.
  const clock = new FakeClock(Date.now());
  await using server = await startTestServer({}, { clock });
  const exp = Math.floor(clock.now() / 1000) + 600;
  const probe = await connectClient(server, { token: await mintTestToken({}, { expiresIn: exp }) });
  await probe.next("connection_status");
  clock.advance(600_000); // at exp: still within the 30 s of skew
  assert.equal(probe.isClosed, false);
  clock.advance(30_001);
  const closed = await within(5_000, probe.closed, "expiry close");
  assert.deepEqual(closed, { code: 1008, reason: "token expired" });
  assert.equal(server.metrics.disconnects.get("token expired"), 1);
});

Deno.test("a plain GET on the WebSocket path gets 426 with a hint", async () => {
  await using server = await startTestServer();
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/ws/sensors`);
  assert.equal(res.status, 426);
  assert.match(await res.text(), /WebSocket/);
});

Deno.test("refused-client log lines are rate-limited, with a count of what was left out", async () => {
  const { logger, lines } = recordingLogger();
  const clock = new FakeClock(Date.now());
  await using server = await startTestServer({}, { logger, clock });
  const refuse = async (n: number) => {
    const probes = await Promise.all(
      Array.from({ length: n }, () => connectClient(server, { token: "not.a.jwt" })),
    );
    for (const p of probes) assert.equal((await within(3_000, p.closed)).code, 1008);
  };
  await refuse(30);
  const logged = () => lines.filter((l) => l.event === "client rejected");
  assert.equal(server.metrics.rejections.get("invalid token"), 30, "every refusal is counted");
  assert.equal(logged().length, 5, "at most 5 lines a second");
  clock.advance(1_000);
  await refuse(1);
  assert.equal(logged().length, 6);
  assert.equal(logged()[5]!.fields.suppressed, 25);
  assert.ok(!JSON.stringify(lines).includes("not.a.jwt"), "tokens are never logged");
});
