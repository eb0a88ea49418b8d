import assert from "node:assert/strict";
import {
  type ClientInfo,
  Hub,
  type HubOptions,
  MAX_PENDING_REPLIES,
  type Transport,
} from "../server/hub.ts";
import { CloseCode, CloseReason, CLOSES } from "../protocol/mod.ts";
import { FakeClock } from "./_fake_clock.ts";

/** Records what the hub sends; the test sets `bufferedAmount`; `failNext` makes one send throw. */
class FakeTransport implements Transport {
  sent: string[] = [];
  bufferedAmount = 0;
  readyState = 1;
  failNext = false;
  closeThrows = false;
  closed: { code: number; reason: string } | undefined;

  send(data: string): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("socket is gone");
    }
    this.sent.push(data);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
    if (this.closeThrows) throw new Error("already closed");
  }
}

const SLOW_TIMEOUT = 30_000;
const MAX_BUFFERED = 1_000;

function setup(options: Partial<HubOptions> = {}) {
  const clock = new FakeClock();
  const counts = { sent: 0, dropped: 0, conflated: 0 };
  const hub = new Hub({
    maxBufferedBytes: MAX_BUFFERED,
    slowClientTimeoutMs: SLOW_TIMEOUT,
    clock,
    // Deferred work (the next slice of a round, slow-client flushes) runs at once.
    defer: (fn) => fn(),
    onSent: (n) => counts.sent += n,
    onDropped: (n) => counts.dropped += n,
    onConflated: (n) => counts.conflated += n,
    ...options,
  });
  let n = 0;
  const connect = (
    opts: { allowed?: string[]; subscriptions?: string[] | null } = {},
  ) => {
    const transport = new FakeTransport();
    const info: ClientInfo = {
      id: (n++).toString(16).padStart(8, "0"),
      subject: "tester",
      remoteAddr: "127.0.0.1",
      connectedAt: clock.now(),
      allowed: opts.allowed ? new Set(opts.allowed) : null,
    };
    const client = hub.add(info, transport, opts.subscriptions ?? null);
    return { id: info.id, client, transport };
  };
  return { clock, counts, hub, connect };
}

const sanitize = { sanitizeOps: true, sanitizeResources: true };

Deno.test({ name: "hub", ...sanitize }, async (t) => {
  await t.step("delivers a reading to every client exactly once", () => {
    const { hub, connect, counts } = setup();
    const clients = Array.from({ length: 5 }, () => connect());
    assert.equal(hub.publishReading("V1", "r1"), 5);
    for (const c of clients) assert.deepEqual(c.transport.sent, ["r1"]);
    assert.equal(counts.sent, 5);
    assert.ok(clients.every((c) => c.client.sent === 1));
  });

  await t.step("delivers only sensors a client is allowed to see and subscribed to", () => {
    const { hub, connect } = setup();
    const all = connect();
    const onlyV1 = connect({ subscriptions: ["V1"] });
    const allowedV2 = connect({ allowed: ["V2"] });
    const wantsBoth = connect({ allowed: ["V2"], subscriptions: ["V1", "V2"] });
    assert.deepEqual(wantsBoth.client.subscriptions, new Set(["V2"]));
    hub.publishReading("V1", "v1");
    hub.publishReading("V2", "v2");
    assert.deepEqual(all.transport.sent, ["v1", "v2"]);
    assert.deepEqual(onlyV1.transport.sent, ["v1"]);
    assert.deepEqual(allowedV2.transport.sent, ["v2"]);
    assert.deepEqual(wantsBoth.transport.sent, ["v2"]);
    assert.equal(hub.subscribe(allowedV2.id, ["V1"])?.size, 0, "V1 is never allowed");
  });

  await t.step("subscribe narrows 'all' to the given sensors, then adds", () => {
    const { hub, connect } = setup();
    const { id, client } = connect();
    assert.deepEqual(hub.subscribe(id, ["V1", "V3"]), new Set(["V1", "V3"]));
    assert.deepEqual(hub.subscribe(id, ["V2"]), new Set(["V1", "V2", "V3"]));
    assert.deepEqual(hub.unsubscribe(id, ["V1", "V9"]), new Set(["V2", "V3"]));
    assert.equal(hub.canSee(client, "V1"), false);
    assert.equal(hub.setSubscriptions(id, null), null);
    assert.equal(hub.canSee(client, "V1"), true);
  });

  await t.step("unsubscribe from 'all' keeps every other sensor, including future ones", () => {
    const { hub, connect } = setup();
    const { id, client, transport } = connect();
    assert.equal(hub.unsubscribe(id, ["V2"]), null);
    assert.deepEqual(client.excluded, new Set(["V2"]));
    for (const s of ["V1", "V2", "V7"]) hub.publishReading(s, s);
    assert.deepEqual(transport.sent, ["V1", "V7"]);
    assert.equal(hub.subscribe(id, ["V2"]), null, "re-subscribing an excluded sensor restores it");
    assert.equal(client.excluded.size, 0);
    assert.equal(hub.canSee(client, "V2"), true);
  });

  await t.step(
    "the README's rule: subscribe from 'all except' re-includes and never narrows; from 'all' it narrows",
    () => {
      const { hub, connect } = setup();
      const { id, client } = connect();
      hub.unsubscribe(id, ["V2", "V3"]);
      // From "all except V2, V3": subscribing V2 and V9 takes V2 off the list, stays on "all".
      assert.equal(hub.subscribe(id, ["V2", "V9"]), null);
      assert.deepEqual(client.excluded, new Set(["V3"]));
      assert.equal(hub.canSee(client, "V1"), true);
      // Once nothing is excluded it is plain "all" again, where subscribe narrows.
      assert.equal(hub.subscribe(id, ["V3"]), null);
      assert.deepEqual(hub.subscribe(id, ["V1"]), new Set(["V1"]));
      assert.equal(hub.canSee(client, "V2"), false);
      // From a list, subscribe adds.
      assert.deepEqual(hub.subscribe(id, ["V4"]), new Set(["V1", "V4"]));
    },
  );

  await t.step(
    "a send that throws on a closing socket is a quiet disconnect, not a failure",
    () => {
      const closed: string[] = [];
      const { hub, connect } = setup({ onClosed: (reason) => closed.push(reason) });
      const gone = connect();
      const other = connect();
      gone.transport.failNext = true;
      gone.transport.readyState = 2; // CLOSING: the peer is leaving
      assert.equal(hub.publishReading("V1", "r1"), 1);
      assert.equal(hub.get(gone.id), undefined);
      assert.equal(gone.transport.closed, undefined, "not closed again with 1011");
      assert.deepEqual(closed, [], "not counted as send failed");
      assert.deepEqual(other.transport.sent, ["r1"]);
    },
  );

  await t.step("unsubscribe from 'all' with a sensors claim leaves the rest of the claim", () => {
    const { hub, connect } = setup();
    const { id } = connect({ allowed: ["V1", "V2", "V3"] });
    assert.deepEqual(hub.unsubscribe(id, ["V2"]), new Set(["V1", "V3"]));
  });

  await t.step("reports no subscriptions for an unknown client", () => {
    const { hub } = setup();
    assert.deepEqual(hub.subscribe("deadbeef", ["V1"]), new Set());
    assert.equal(hub.sendTo("deadbeef", "x"), false);
  });

  await t.step("removes a client whose send throws and still delivers to the others", () => {
    const { hub, connect } = setup();
    const a = connect();
    const broken = connect();
    const c = connect();
    broken.transport.failNext = true;
    broken.transport.closeThrows = true;
    assert.equal(hub.publishReading("V1", "r1"), 2);
    assert.deepEqual(a.transport.sent, ["r1"]);
    assert.deepEqual(c.transport.sent, ["r1"]);
    assert.equal(hub.get(broken.id), undefined);
    assert.equal(broken.transport.closed?.code, CloseCode.INTERNAL_ERROR);
    assert.equal(hub.size, 2);
    hub.publishReading("V1", "r2");
    assert.deepEqual(broken.transport.sent, []);
  });

  await t.step(
    "a slow client keeps only the latest value per sensor and gets them after drain",
    () => {
      const { hub, connect, counts } = setup();
      const fast = connect();
      const slow = connect();
      slow.transport.bufferedAmount = MAX_BUFFERED + 1;
      hub.publishReading("V1", "v1-a");
      assert.equal(slow.client.slow, true);
      slow.transport.bufferedAmount = 0; // once slow, everything waits until tick()
      hub.publishReading("V2", "v2-a");
      hub.publishReading("V1", "v1-b");
      hub.broadcast("bridge-down");
      hub.broadcast("bridge-up");
      hub.publishReading("V1", "v1-c");
      assert.equal(hub.sendTo(slow.id, "pong"), true);
      assert.deepEqual(slow.transport.sent, []);
      assert.equal(fast.transport.sent.length, 6);
      assert.equal(slow.client.dropped, 1, "the older broadcast");
      assert.equal(counts.dropped, 1);
      assert.equal(counts.conflated, 2, "v1-a and v1-b, replaced by v1-c");

      hub.tick();
      // Replies first, then the broadcast, then readings, the longest-unchanged sensor first.
      assert.deepEqual(slow.transport.sent, ["pong", "bridge-up", "v2-a", "v1-c"]);
      assert.equal(slow.client.slow, false);
      hub.publishReading("V2", "v2-b");
      assert.equal(slow.transport.sent.at(-1), "v2-b");
      assert.equal(counts.sent, 7 + 4 + 1);
    },
  );

  await t.step("a slow client holds one message per sensor however many arrive", () => {
    const { hub, connect, counts } = setup();
    const slow = connect();
    slow.transport.bufferedAmount = MAX_BUFFERED + 1;
    for (let i = 0; i < 1_000; i++) hub.publishReading(`V${i % 5}`, `r${i}`);
    slow.transport.bufferedAmount = 0;
    hub.tick();
    assert.deepEqual(slow.transport.sent, ["r995", "r996", "r997", "r998", "r999"]);
    assert.equal(counts.conflated, 995);
  });

  await t.step("a slow client's direct replies are bounded", () => {
    const { hub, connect } = setup();
    const slow = connect();
    slow.transport.bufferedAmount = MAX_BUFFERED + 1;
    for (let i = 0; i < MAX_PENDING_REPLIES; i++) assert.equal(hub.sendTo(slow.id, `r${i}`), true);
    assert.equal(hub.sendTo(slow.id, "one too many"), false);
    slow.transport.bufferedAmount = 0;
    hub.tick();
    assert.equal(slow.transport.sent.length, MAX_PENDING_REPLIES);
    assert.ok(!slow.transport.sent.includes("one too many"));
  });

  await t.step("a client that stays slow past the timeout is closed with 1013", () => {
    const { hub, connect, clock, counts } = setup();
    const other = connect();
    const slow = connect();
    slow.transport.bufferedAmount = MAX_BUFFERED + 1;
    hub.publishReading("V1", "v1");
    clock.advance(SLOW_TIMEOUT);
    hub.tick();
    assert.equal(slow.transport.closed, undefined, "exactly the timeout is not yet too slow");
    clock.advance(1);
    hub.tick();
    assert.deepEqual(slow.transport.closed, {
      code: CloseCode.TRY_AGAIN_LATER,
      reason: CloseReason.SLOW_CONSUMER,
    });
    assert.equal(hub.get(slow.id), undefined);
    assert.equal(counts.dropped, 1, "its pending reading is counted as dropped");
    assert.equal(other.transport.closed, undefined);
    assert.equal(hub.size, 1);
  });

  await t.step("a removed slow client is forgotten, not closed later by tick", () => {
    const { hub, connect, clock } = setup();
    const slow = connect();
    slow.transport.bufferedAmount = MAX_BUFFERED + 1;
    hub.publishReading("V1", "v1");
    assert.equal(hub.remove(slow.id), true);
    clock.advance(SLOW_TIMEOUT + 1);
    hub.tick();
    assert.equal(slow.transport.closed, undefined);
    assert.deepEqual(slow.transport.sent, []);
  });

  await t.step("closeAll closes every client with the given code and forgets them", () => {
    const { hub, connect } = setup();
    const clients = [connect(), connect(), connect()];
    clients[0]!.transport.closeThrows = true;
    hub.closeAll(CLOSES.SHUTDOWN);
    for (const c of clients) {
      assert.deepEqual(c.transport.closed, {
        code: CloseCode.GOING_AWAY,
        reason: CloseReason.SHUTDOWN,
      });
    }
    assert.equal(hub.size, 0);
    assert.equal(hub.publishReading("V1", "r"), 0);
  });

  await t.step("refuses a second client with the same id", () => {
    const { hub, connect } = setup();
    const { client } = connect();
    assert.throws(() => hub.add(client, new FakeTransport()), RangeError);
    assert.equal(hub.remove(client.id), true);
    assert.equal(hub.remove(client.id), false);
  });
});
