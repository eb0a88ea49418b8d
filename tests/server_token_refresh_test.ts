/** Token refresh over an open connection, on the injected clock, with a real broker. */
import assert from "node:assert/strict";
import { FakeClock } from "./_fake_clock.ts";
import { mintTestToken, publish, startMosquitto, within } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

const MINUTE = 60_000;

/**
 * Mosquitto, a server on a hand-held clock with no skew allowance, and a client of `sub` "ana"
 * whose token (with `claims`) expires `ttlSec` from now.
 */
async function connected(ttlSec: number, claims: Record<string, unknown>) {
  const mosquitto = await startMosquitto();
  const clock = new FakeClock(Date.now());
  const server = await startTestServer({
    mqtt: { url: mosquitto.url },
    auth: { clockToleranceSec: 0 },
  }, { clock });
  const exp = Math.floor(clock.now() / 1000) + ttlSec;
  const probe = await connectClient(server, {
    token: await mintTestToken(claims, { expiresIn: exp, sub: "ana" }),
  });
  await probe.next("connection_status");
  return {
    mosquitto,
    clock,
    server,
    probe,
    exp,
    async [Symbol.asyncDispose]() {
      await probe[Symbol.asyncDispose]();
      await server.shutdown();
      await mosquitto[Symbol.asyncDispose]();
    },
  };
}

Deno.test("token_expiring comes inside the window; a refresh carries the client past exp", async () => {
  await using t = await connected(600, { sensors: ["V1"] });
  const { mosquitto, clock, server, probe, exp } = t;
  clock.advance(600_000 - MINUTE - 1_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probe.of("token_expiring").length, 0, "not before the 60 s window");
  clock.advance(1_000);
  const notice = await probe.next("token_expiring");
  assert.equal(notice.data.expires_at, new Date(exp * 1000).toISOString());

  const later = exp + 3_600;
  probe.send({
    type: "refresh",
    token: await mintTestToken({ sensors: ["V1", "V2"] }, { expiresIn: later, sub: "ana" }),
  });
  const refreshed = await probe.next("token_refreshed");
  assert.equal(refreshed.data.expires_at, new Date(later * 1000).toISOString());
  assert.equal(server.metrics.tokenRefreshes.get("accepted"), 1);

  clock.advance(2 * MINUTE); // past the old exp
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probe.isClosed, false, "still connected past the first token's exp");
  // The new token's sensors claim is the new limit: V2 now flows too.
  await publish(mosquitto.url, [{ topic: "sensors/V2/data", payload: payload({ moisture: 7 }) }]);
  const reading = await probe.next("sensor_reading");
  assert.deepEqual([reading.data.sensor_id, reading.data.moisture], ["V2", 7]);
  clock.advance(later * 1_000 - clock.now() - 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probe.isClosed, false, "not before the new exp");
  clock.advance(2);
  assert.deepEqual(await within(5_000, probe.closed), { code: 1008, reason: "token expired" });
});

Deno.test("a refresh with another sub is refused; the client is closed at the old exp", async () => {
  await using t = await connected(120, {});
  const { clock, server, probe } = t;
  probe.send({ type: "refresh", token: await mintTestToken({}, { expiresIn: "2h", sub: "bob" }) });
  const error = await probe.next("error");
  assert.equal(error.data.code, "invalid_token");
  assert.match(error.data.message, /sub/);
  probe.send({ type: "refresh", token: "not.a.jwt" });
  assert.equal((await probe.next("error")).data.code, "invalid_token");
  assert.equal(server.metrics.tokenRefreshes.get("refused"), 2);
  assert.ok(!JSON.stringify(probe.messages).includes("not.a.jwt"), "tokens are not echoed");
  clock.advance(119_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probe.isClosed, false, "the connection goes on until the old exp");
  clock.advance(1_001);
  assert.deepEqual(await within(5_000, probe.closed), { code: 1008, reason: "token expired" });
});

Deno.test("a narrower token's claim narrows what the client receives", async () => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: mosquitto.url } });
  await using probe = await connectClient(server, {
    token: await mintTestToken({}, { sub: "ana" }),
  });
  await probe.until((m) =>
    m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected")
  );
  probe.send({ type: "subscribe", sensors: ["V1", "V2"] });
  await probe.next("subscriptions");
  probe.send({ type: "refresh", token: await mintTestToken({ sensors: ["V2"] }, { sub: "ana" }) });
  await probe.next("token_refreshed");
  await publish(mosquitto.url, [
    { topic: "sensors/V1/data", payload: payload({ moisture: 1 }) },
    { topic: "sensors/V2/data", payload: payload({ moisture: 2 }) },
  ]);
  await probe.next("sensor_reading");
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(probe.of("sensor_reading").map((r) => r.data.sensor_id), ["V2"]);
});
