/**
 * The hub under load, with hand-held transports and clock: the total buffer budget, conflated
 * rounds while overloaded, fairness, the complete connect snapshot, and stuck versus busy.
 */
import assert from "node:assert/strict";
import { type ClientInfo, Hub, type HubOptions, type Transport } from "../server/hub.ts";
import { FakeClock } from "./_fake_clock.ts";
import { recordingLogger } from "./_helpers.ts";

/** A socket whose buffer fills as it is sent to, and drains only when the test says so. */
class BufferingTransport implements Transport {
  sent: string[] = [];
  bufferedAmount = 0;
  readyState = 1;
  closed: { code: number; reason: string } | undefined;

  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  /** The peer reads `bytes` (default: everything). */
  drain(bytes = Infinity): void {
    this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
  }
}

function setup(options: Partial<HubOptions> = {}) {
  const clock = new FakeClock(1_000);
  const { logger, lines } = recordingLogger();
  const counts = { sent: 0, dropped: 0, conflated: 0 };
  const deferred: (() => void)[] = [];
  const hub = new Hub({
    maxBufferedBytes: 100_000,
    slowClientTimeoutMs: 30_000,
    clock,
    logger,
    defer: (fn) => deferred.push(fn),
    onSent: (n) => counts.sent += n,
    onDropped: (n) => counts.dropped += n,
    onConflated: (n) => counts.conflated += n,
    ...options,
  });
  let n = 0;
  const connect = () => {
    const transport = new BufferingTransport();
    const id = (n++).toString(16).padStart(8, "0");
    const info: ClientInfo = { id, subject: "", remoteAddr: "", connectedAt: 0, allowed: null };
    return { id, client: hub.add(info, transport), transport };
  };
  /** Runs deferred work (slices) until none is left. */
  const settle = () => {
    for (let i = 0; deferred.length > 0 && i < 10_000; i++) deferred.shift()!();
  };
  /** Runs the next piece of deferred work (one slice). */
  const slice = () => deferred.shift()?.();
  /** A tick that ran `lagMs` late: the event loop was saturated. */
  const lateTick = (lagMs: number) => {
    clock.advance(100 + lagMs);
    hub.tick();
  };
  /** `ms` of quiet ticks every 100 ms. */
  const calm = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      hub.tick();
      settle();
    }
  };
  return { clock, lines, counts, hub, connect, settle, slice, lateTick, calm };
}

const last = (t: BufferingTransport, sensor: string) =>
  t.sent.filter((m) => m.startsWith(`${sensor}:`)).at(-1);

Deno.test("hub under load", async (t) => {
  await t.step("each client may buffer its share of the total budget, at least 4 KiB", () => {
    const { hub, connect } = setup({ maxTotalBufferedBytes: 50_000 });
    const clients = Array.from({ length: 10 }, connect); // a share of 5,000 bytes each
    clients[0]!.transport.bufferedAmount = 5_001;
    clients[1]!.transport.bufferedAmount = 5_000;
    hub.publishReading("V1", "V1:a");
    assert.equal(clients[0]!.client.slow, true, "over its share: latest values only");
    assert.equal(clients[1]!.client.slow, false);
    for (let i = 0; i < 90; i++) connect(); // 100 clients: 500 each, but never below 4 KiB
    clients[2]!.transport.bufferedAmount = 4_096;
    clients[3]!.transport.bufferedAmount = 4_097;
    hub.publishReading("V1", "V1:b");
    assert.deepEqual([clients[2]!.client.slow, clients[3]!.client.slow], [false, true]);
  });

  await t.step("overloaded, readings are conflated and every client gets every latest", () => {
    const { hub, connect, counts, settle, lateTick, lines } = setup();
    const clients = Array.from({ length: 100 }, connect);
    lateTick(300);
    assert.equal(hub.overloaded, true);
    assert.equal(lines.filter((l) => l.event.startsWith("overloaded")).length, 1);
    for (let i = 0; i < 1_000; i++) {
      assert.equal(hub.publishReading(`V${i % 5}`, `V${i % 5}:${i}`), 0);
    }
    settle();
    for (const { transport } of clients) {
      assert.deepEqual(transport.sent, ["V0:995", "V1:996", "V2:997", "V3:998", "V4:999"]);
    }
    assert.equal(counts.conflated, 995);
    assert.equal(counts.sent, 500);
  });

  await t.step("overload ends after calm, logged once; then every reading goes out at once", () => {
    const { hub, connect, lateTick, calm, lines } = setup();
    const { transport } = connect();
    lateTick(300);
    lateTick(300);
    calm(2_000);
    assert.equal(hub.overloaded, true, "not yet: 3 s of calm are needed");
    calm(2_000);
    assert.equal(hub.overloaded, false);
    const events = lines.map((l) => l.event).filter((e) => e.startsWith("overload"));
    assert.deepEqual(events, [
      "overloaded: sending the latest reading per sensor",
      "overload over: sending every reading again",
    ]);
    assert.equal(hub.publishReading("V1", "V1:a"), 1);
    assert.equal(hub.publishReading("V1", "V1:b"), 1);
    assert.deepEqual(transport.sent, ["V1:a", "V1:b"]);
  });

  await t.step(
    "a round under way when the overload ends finishes first: nobody goes back in time",
    () => {
      const { hub, connect, lateTick, clock, slice, settle } = setup();
      const clients = Array.from({ length: 1_500 }, connect);
      lateTick(300);
      hub.publishReading("V1", "V1:a");
      // One slice hands out about 1,000 messages: the other clients still wait for "a".
      slice();
      const early = clients.filter(({ transport }) => transport.sent.length === 1).length;
      assert.ok(early >= 1_000 && early < 1_100, `${early} served in the first slice`);
      for (let t = 0; t < 4_000; t += 100) {
        clock.advance(100);
        hub.tick();
      }
      assert.equal(hub.overloaded, false, "calm long enough");
      hub.publishReading("V1", "V1:b");
      settle();
      for (const [i, { transport }] of clients.entries()) {
        assert.deepEqual(transport.sent, i < early ? ["V1:a", "V1:b"] : ["V1:b"], `client ${i}`);
      }
    },
  );

  await t.step("a slow client among fast ones still gets a latest value every round", () => {
    const { hub, connect, settle, lateTick } = setup({ maxBufferedBytes: 1_000 });
    const fast = connect();
    const slow = connect();
    slow.transport.bufferedAmount = 1_500; // behind: over its 1,000 bytes
    lateTick(300);
    const perRound: number[] = [];
    for (let round = 0; round < 5; round++) {
      const before = slow.transport.sent.length;
      for (let i = 0; i < 50; i++) hub.publishReading(`V${i % 5}`, `V${i % 5}:${round}`);
      settle();
      fast.transport.drain();
      slow.transport.drain(600); // reads a little each round
      hub.tick();
      settle();
      perRound.push(slow.transport.sent.length - before);
    }
    for (const s of ["V0", "V1", "V2", "V3", "V4"]) assert.equal(last(fast.transport, s), `${s}:4`);
    assert.ok(
      perRound.every((n) => n >= 1),
      `sent to the slow one per round: ${perRound}`,
    );
    for (let i = 0; i < 10; i++) {
      slow.transport.drain();
      hub.tick();
      settle();
    }
    for (const s of ["V0", "V1", "V2", "V3", "V4"]) assert.equal(last(slow.transport, s), `${s}:4`);
  });

  await t.step(
    "the connect snapshot arrives whole, however many sensors, through a small buffer",
    () => {
      const { hub, connect, settle, counts } = setup({ maxBufferedBytes: 4_096 });
      const { id, transport } = connect();
      const snapshot = Array.from(
        { length: 5_000 },
        (_, i) => ({ sensorId: `S${i}`, text: `S${i}:old` }),
      );
      hub.offerSnapshot(id, { readings: snapshot });
      assert.ok(transport.sent.length < 5_000, "not all at once: the buffer is small");
      hub.publishReading("S4999", "S4999:new"); // a live reading replaces its sensor's snapshot entry
      for (let i = 0; i < 2_000 && transport.sent.length < 5_000; i++) {
        transport.drain();
        hub.tick();
        settle();
      }
      const got = new Set(transport.sent);
      assert.equal(transport.sent.length, 5_000);
      assert.ok(got.has("S0:old") && got.has("S4998:old") && got.has("S4999:new"));
      assert.ok(!got.has("S4999:old"));
      assert.equal(counts.dropped, 0);
    },
  );

  await t.step(
    "a slow client that drains, however slowly, is kept; one that never does is closed",
    () => {
      const { hub, connect, clock, settle } = setup({
        maxBufferedBytes: 10,
        slowClientTimeoutMs: 3_000,
      });
      const slowReader = connect();
      const stalled = connect();
      for (let s = 0; s < 100; s++) {
        hub.publishReading(`V${s % 5}`, `V${s % 5}:${s}`);
        slowReader.transport.drain(1); // one byte now and then
        clock.advance(100);
        hub.tick();
        settle();
      }
      assert.equal(slowReader.transport.closed, undefined);
      assert.equal(stalled.transport.closed?.code, 1013);
      assert.equal(hub.size, 1);
    },
  );
});
