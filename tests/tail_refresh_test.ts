/** tail renews its token before it expires: the decisions on a hand-held clock, then a socket. */
import assert from "node:assert/strict";
import { type Notice, runTail, type TailEvents } from "../tail/client.ts";
import { describeNotice } from "../tail/notices.ts";
import { TokenRefresher } from "../tail/refresh.ts";
import { envelopeOf } from "../protocol/mod.ts";
import { within } from "./_helpers.ts";
import { greeting, reading, ScriptedServer, sendAll } from "./_tail_servers.ts";

const T0 = Date.parse("2025-12-06T14:30:00.000Z");

/** A refresher on a clock that a wait moves forward, recording what it sends and says. */
function refresher(source: (() => string | Promise<string>) | undefined) {
  const clock = { now: T0 };
  const sent: string[] = [];
  const notices: Notice[] = [];
  const waits: number[] = [];
  const r = new TokenRefresher({
    source,
    send: (token) => void sent.push(token),
    notice: (n) => void notices.push(n),
    fail: (error) => {
      throw error;
    },
    now: () => clock.now,
    sleep: (ms) => {
      waits.push(ms);
      clock.now += ms;
      return Promise.resolve();
    },
  });
  return { r, sent, notices, waits };
}

/** Lets the refresher's promise chain run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("token refresher", async (t) => {
  await t.step("sends a fresh token and says when the server took it", async () => {
    let n = 0;
    const { r, sent, notices } = refresher(() => `token-${++n}`);
    r.expiring("2025-12-06T14:31:00.000Z");
    await settle();
    assert.deepEqual(sent, ["token-1"]);
    r.refreshed("2025-12-06T15:30:00.000Z");
    assert.deepEqual(notices, [{ kind: "token_refreshed", expiresAt: "2025-12-06T15:30:00.000Z" }]);
    await r.close();
  });

  await t.step("retries a failing source a few times before the expiry, then says so", async () => {
    let calls = 0;
    const { r, sent, notices, waits } = refresher(() => {
      calls++;
      throw new Error("vault sealed");
    });
    r.expiring("2025-12-06T14:31:00.000Z"); // 60 s left
    await settle();
    assert.deepEqual(sent, []);
    assert.equal(calls, 5);
    // A quarter of the time left each time: 15 s, then 11.25 s, …
    assert.deepEqual(waits, [15_000, 11_250, 8_438, 6_328]);
    assert.equal(notices.length, 5);
    assert.equal(
      describeNotice(notices[0]!),
      "cannot refresh the token: vault sealed; retrying in 15.0s",
    );
    assert.equal(
      describeNotice(notices.at(-1)!),
      "cannot refresh the token: vault sealed; the server closes the connection when the old " +
        "one expires at 2025-12-06T14:31:00.000Z, then tail reconnects with a new one",
    );
    await r.close();
  });

  await t.step("makes no attempt within a second of the expiry", async () => {
    const { r, notices, waits } = refresher(() => {
      throw new Error("down");
    });
    r.expiring("2025-12-06T14:30:01.500Z"); // 1.5 s left: one attempt, no wait of 1 s after it
    await settle();
    assert.deepEqual(waits, []);
    assert.equal(notices.length, 1);
    assert.equal((notices[0] as { retryInMs?: number }).retryInMs, undefined);
    await r.close();
  });

  await t.step("a refused token is said once, and only when a refresh was awaited", async () => {
    const { r, notices } = refresher(() => "new");
    r.refused();
    assert.deepEqual(notices, [], "an invalid_token error that is no answer to us");
    r.expiring("2025-12-06T14:31:00.000Z");
    await settle();
    r.refused();
    r.refused();
    assert.deepEqual(notices, [{ kind: "refresh_refused", expiresAt: "2025-12-06T14:31:00.000Z" }]);
    await r.close();
  });

  await t.step("a token that was given cannot be renewed, and it says so", () => {
    const { r, notices } = refresher(undefined);
    r.expiring("2025-12-06T14:31:00.000Z");
    assert.match(describeNotice(notices[0]!), /cannot renew a token it was given/);
  });

  await t.step("a second token_expiring while one renewal runs starts no other", async () => {
    let calls = 0;
    let release!: (t: string) => void;
    const { r, sent } = refresher(() => {
      calls++;
      return new Promise<string>((resolve) => release = resolve);
    });
    r.expiring("2025-12-06T14:31:00.000Z");
    r.expiring("2025-12-06T14:31:00.000Z");
    assert.equal(calls, 1);
    release("t1");
    await settle();
    assert.deepEqual(sent, ["t1"]);
    await r.close();
  });
});

/** Events that record notices and states. */
function recorder() {
  const notices: Notice[] = [];
  const states: string[] = [];
  const events: TailEvents = {
    onMessage() {},
    onState: (state, detail) => void states.push(detail ? `${state}: ${detail}` : state),
    onNotice: (n) => void notices.push(n),
  };
  return { events, notices, states };
}

const at = new Date(T0);

Deno.test("tail client renews its token over the socket", async (t) => {
  await t.step("token_expiring: a fresh token from the source goes out as refresh", async () => {
    await using server = new ScriptedServer((ws) => {
      sendAll(ws, [...greeting(), reading("V1", 1)]);
      sendAll(ws, [envelopeOf("token_expiring", { expires_at: "2025-12-06T14:31:00.000Z" }, at)]);
      ws.onmessage = () => {
        sendAll(ws, [
          envelopeOf("token_refreshed", { expires_at: "2025-12-06T15:31:00.000Z" }, at),
        ]);
        sendAll(ws, [reading("V1", 2)]);
      };
    });
    let n = 0;
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token: () => `token-${++n}`, count: 2, connectTimeoutMs: 2_000 },
        rec.events,
      ),
    );
    assert.deepEqual(server.bearers, ["token-1"]);
    assert.deepEqual(server.received[0], [{ type: "refresh", token: "token-2" }]);
    assert.deepEqual(rec.notices, [
      { kind: "token_refreshed", expiresAt: "2025-12-06T15:31:00.000Z" },
    ]);
  });

  await t.step("a source that fails is tried again, and the failure said plainly", async () => {
    await using server = new ScriptedServer((ws) => {
      sendAll(ws, [...greeting(), reading("V1", 1)]);
      const soon = new Date(Date.now() + 60_000).toISOString();
      sendAll(ws, [envelopeOf("token_expiring", { expires_at: soon }, at)]);
      ws.onmessage = () => sendAll(ws, [reading("V1", 2)]);
    });
    let n = 0;
    const token = () => {
      if (++n === 2) throw new Error("the token command exited with 1: vault sealed");
      return `token-${n}`;
    };
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token, count: 2, connectTimeoutMs: 2_000 },
        rec.events,
        { sleep: () => Promise.resolve() },
      ),
    );
    assert.deepEqual(server.received[0], [{ type: "refresh", token: "token-3" }]);
    assert.match(
      describeNotice(rec.notices[0]!),
      /^cannot refresh the token: the token command exited with 1: vault sealed; retrying in \d+\.\ds$/,
    );
  });

  await t.step("a source that fails at a reconnect is retried with backoff", async () => {
    await using server = new ScriptedServer((ws, n) => {
      sendAll(ws, [...greeting(), reading("V1", n)]);
      if (n === 1) ws.close(1001);
    });
    let n = 0;
    const token = () => {
      if (++n === 2) throw new Error("no network");
      return `token-${n}`;
    };
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token, count: 2, connectTimeoutMs: 2_000, reconnectMinMs: 10 },
        rec.events,
      ),
    );
    assert.deepEqual(server.bearers, ["token-1", "token-3"]);
    assert.ok(
      rec.states.some((s) => /^reconnecting: cannot get a token: no network; retrying in/.test(s)),
      rec.states.join("\n"),
    );
  });

  await t.step("an exception in onNotice during a renewal ends the run with it", async () => {
    await using server = new ScriptedServer((ws) => {
      sendAll(ws, [...greeting(), reading("V1", 1)]);
      sendAll(ws, [envelopeOf("token_expiring", { expires_at: "2025-12-06T14:31:00.000Z" }, at)]);
    });
    const boom = new Error("stderr closed");
    const events: TailEvents = {
      onMessage() {},
      onState() {},
      onNotice() {
        throw boom;
      },
    };
    let n = 0;
    const token = () => ++n === 1 ? "first" : Promise.reject(new Error("helper down"));
    await assert.rejects(
      within(5_000, runTail({ url: server.url, token, connectTimeoutMs: 2_000 }, events)),
      (e) => e === boom,
    );
  });

  await t.step(
    "a source that fails before any connection ends the run with its error",
    async () => {
      const boom = new Error("no such helper");
      await assert.rejects(
        runTail(
          {
            url: "ws://127.0.0.1:9/ws/sensors",
            token: () => Promise.reject(boom),
            connectTimeoutMs: 500,
          },
          recorder().events,
        ),
        (e) => e === boom,
      );
    },
  );
});
