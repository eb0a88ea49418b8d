/**
 * The dashboard's WebSocket client: backoff and the close table on a fake socket and a hand-held
 * clock; gap-free reconnects and a refused token against a real server.
 */
import assert from "node:assert/strict";
import { DashboardClient } from "../dashboard/client.js";
import { Connection, type ConnectionState } from "../dashboard/connection.js";
import { Model } from "../dashboard/state.js";
import { FakeClock } from "./_fake_clock.ts";
import { mintTestToken, publish, waitFor } from "./_helpers.ts";
import { payload, startTestServer } from "./_server.ts";

/** A WebSocket the test opens, feeds and closes by hand. */
class FakeSocket {
  static made: FakeSocket[] = [];
  readonly url: string;
  readyState = 0;
  readonly sent: Array<Record<string, unknown>> = [];
  closedWith: number | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code?: number) {
    this.readyState = 3;
    this.closedWith = code;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(type: string, data: unknown = {}) {
    this.onmessage?.({ data: JSON.stringify({ type, data, timestamp: new Date().toISOString() }) });
  }
  drop(code: number, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function fakeConnection(clock: FakeClock, onOpen: () => unknown[] = () => []) {
  FakeSocket.made = [];
  const states: ConnectionState[] = [];
  const messages: string[] = [];
  const connection = new Connection({
    url: (token) => `ws://test/ws/sensors?token=${token}`,
    onOpen,
    onMessage: (m) => void messages.push(m.type),
    onState: (s) => void states.push(s),
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (h) => clock.clearTimeout(h),
    now: () => clock.now(),
    random: () => 1,
    minDelayMs: 1_000,
    maxDelayMs: 30_000,
    keepaliveMs: 20_000,
  });
  const socket = () => FakeSocket.made.at(-1)!;
  return { connection, states, messages, socket };
}

Deno.test("the connection sends the page's requests on open and is connected once admitted", () => {
  const clock = new FakeClock(0);
  const { connection, states, messages, socket } = fakeConnection(
    clock,
    () => [{ type: "history", since: "-900s" }],
  );
  connection.start("abc");
  assert.equal(socket().url, "ws://test/ws/sensors?token=abc");
  assert.equal(states.at(-1)!.state, "connecting");
  socket().open();
  assert.deepEqual(socket().sent, [{ type: "history", since: "-900s" }]);
  assert.equal(connection.state.state, "connecting", "not before the server admits it");
  socket().receive("connection_status", { status: "connected" });
  socket().receive("sensor_reading");
  socket().onmessage?.({ data: "not json" });
  assert.equal(connection.state.state, "connected");
  assert.deepEqual(messages, ["connection_status", "sensor_reading"]);
  assert.equal(connection.send({ type: "ping" }), true);
  connection.stop();
  assert.equal(socket().closedWith, 1000);
  assert.equal(connection.state.state, "disconnected");
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a lost connection is retried with growing delays, reset once a connection works", () => {
  const clock = new FakeClock(0);
  const { connection, socket } = fakeConnection(clock);
  connection.start("abc");
  socket().open();
  socket().receive("connection_status");
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    socket().drop(1006);
    const s = connection.state;
    assert.equal(s.state, "reconnecting");
    assert.equal(s.close!.words, "The connection was lost.");
    waits.push(s.retryAt! - clock.now());
    clock.advance(s.retryAt! - clock.now());
  }
  assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000]);
  socket().open();
  socket().receive("connection_status");
  socket().drop(1001, "server shutting down");
  assert.equal(connection.state.retryAt! - clock.now(), 1_000, "back to the first delay");
  assert.equal(connection.state.close!.words, "The server is stopping.");
  connection.stop();
});

Deno.test("'try again later' waits longer; a refused token stops until another is given", () => {
  const clock = new FakeClock(0);
  const { connection, socket } = fakeConnection(clock);
  connection.start("abc");
  socket().open();
  socket().drop(1013, "server full");
  assert.equal(connection.state.state, "connecting", "never admitted yet");
  assert.equal(connection.state.retryAt! - clock.now(), 8_000);
  clock.advance(8_000);
  socket().open();
  socket().receive("connection_status");
  socket().drop(1008, "token expired");
  const s = connection.state;
  assert.equal(s.state, "disconnected");
  assert.deepEqual(
    { code: s.close!.code, reason: s.close!.reason, words: s.close!.words },
    { code: 1008, reason: "token expired", words: "The token has expired." },
  );
  assert.equal(clock.pendingTimers, 0, "no retry");
  const count = FakeSocket.made.length;
  connection.retryNow();
  assert.equal(FakeSocket.made.length, count, "nothing to retry without a token");
  connection.start("fresh");
  assert.equal(socket().url, "ws://test/ws/sensors?token=fresh");
  assert.deepEqual(connection.state, {
    state: "reconnecting", // it was admitted before: the charts resume
    close: undefined,
    retryAt: undefined,
  });
  connection.stop();
});

Deno.test("a silent connection is pinged, then dropped and retried", () => {
  const clock = new FakeClock(0);
  const { connection, socket } = fakeConnection(clock);
  connection.start("abc");
  const first = socket();
  first.open();
  first.receive("connection_status");
  clock.advance(20_000);
  assert.deepEqual(first.sent, [{ type: "ping" }]);
  clock.advance(20_000);
  assert.equal(first.closedWith, 1000);
  assert.equal(connection.state.state, "reconnecting");
  assert.equal(connection.state.close!.words, "The server stopped answering.");
  connection.retryNow();
  assert.notEqual(socket(), first, "retried at once when asked");
  connection.stop();
});

Deno.test("a handshake that never completes is given up and retried", () => {
  const clock = new FakeClock(0);
  const { connection, socket } = fakeConnection(clock);
  connection.start("abc");
  const first = socket();
  clock.advance(10_000);
  assert.equal(first.closedWith, 1000);
  assert.equal(connection.state.state, "connecting");
  clock.advance(1_000);
  assert.notEqual(socket(), first);
  connection.stop();
});

/** A real WebSocket the test can cut, as a network would. */
class CuttableSocket extends WebSocket {
  static last: CuttableSocket | undefined;
  constructor(url: string) {
    super(url);
    CuttableSocket.last = this;
  }
}

Deno.test("the dashboard client fills a reconnect's gap from history: no hole, no duplicate", async () => {
  await using server = await startTestServer();
  const model = new Model();
  const states: string[] = [];
  const notices: Array<[string, string | undefined]> = [];
  const client = new DashboardClient(model, {
    url: (token) => `${server.wsUrl}?token=${encodeURIComponent(token)}`,
    WebSocket: CuttableSocket,
    selection: () => null,
    onState: (s) => void states.push(s.state),
    onChange: () => {},
    onBroker: () => {},
    onInstance: () => {},
    onNotice: (key, text) => void notices.push([key, text]),
    onTokenNeeded: () => {},
    onToken: () => {},
    minDelayMs: 2_000,
    random: () => 0,
  });
  const start = Date.now() - 60_000;
  const run = async (from: number, to: number) =>
    await publish(
      server.mqttUrl,
      Array.from({ length: to - from }, (_, k) => ({
        topic: "sensors/V1/data",
        payload: payload({
          moisture: from + k,
          timestamp: new Date(start + (from + k) * 1_000).toISOString(),
        }),
      })),
    );
  const moistures = () => model.series("moisture", "V1").map(([, v]) => v);
  try {
    await run(0, 5); // before the page opens: history
    client.start(await mintTestToken());
    await waitFor(() => moistures().length === 5, 3_000, "history on load");
    await run(5, 8); // live
    await waitFor(() => moistures().length === 8, 3_000, "live readings");
    CuttableSocket.last!.close(4001, "test cut");
    await run(8, 12); // while the page is away (it waits 1 s before reconnecting)
    await waitFor(() => moistures().length === 12, 5_000, "the gap filled");
    await run(12, 14);
    await waitFor(() => moistures().length === 14, 3_000, "live again");
    assert.deepEqual(moistures(), Array.from({ length: 14 }, (_, i) => i));
    assert.ok(states.includes("reconnecting"), states.join());
    assert.equal(client.state.state, "connected");
    assert.deepEqual(notices.filter(([key, text]) => key === "history" && text), []);
  } finally {
    client.stop();
  }
});

Deno.test("the dashboard client reports an expired token and asks for another", async () => {
  await using server = await startTestServer();
  const needed: Array<{ close?: { reason: string; words: string } }> = [];
  const kept: Array<string | undefined> = [];
  const model = new Model();
  const client = new DashboardClient(model, {
    url: (token) => `${server.wsUrl}?token=${encodeURIComponent(token)}`,
    selection: () => null,
    onState: () => {},
    onChange: () => {},
    onBroker: () => {},
    onInstance: () => {},
    onNotice: () => {},
    onTokenNeeded: (why) => void needed.push(why),
    onToken: (token) => void kept.push(token),
  });
  try {
    client.start(await mintTestToken({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }));
    await waitFor(() => needed.length > 0, 3_000, "a token prompt");
    assert.equal(client.state.state, "disconnected");
    assert.equal(needed[0]!.close!.reason, "token expired");
    assert.equal(needed[0]!.close!.words, "The token has expired.");
    assert.equal(kept.at(-1), undefined, "the refused token is forgotten");
    const fresh = await mintTestToken();
    client.useToken(fresh);
    await waitFor(() => client.state.state === "connected", 3_000, "connected with a new token");
    assert.equal(kept.at(-1), fresh, "the new token is kept");
    assert.equal(needed.length, 1, "no more prompts");
  } finally {
    client.stop();
  }
});
