/** History replies are paced by the client's buffer: built as it drains, none dropped. */
import assert from "node:assert/strict";
import { HistoryReplies, MAX_PENDING_REQUESTS } from "../server/history_replies.ts";
import { HistoryStore } from "../server/history.ts";
import { Hub, type Transport } from "../server/hub.ts";
import { FakeClock } from "./_fake_clock.ts";

/** A socket whose buffer fills as it is sent to, and drains only when the test says so. */
class StuckTransport implements Transport {
  sent: string[] = [];
  bufferedAmount = 0;
  readyState = 1;
  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  close(): void {}
}

function setup() {
  const clock = new FakeClock(1_000_000);
  const hub = new Hub({ maxBufferedBytes: 4_096, slowClientTimeoutMs: 60_000, clock });
  const store = new HistoryStore({
    windowMs: 3_600_000,
    maxPerSensor: 3_600,
    now: () => clock.now(),
  });
  store.linkUp(0);
  const replies = new HistoryReplies({ hub, store, clock, windowMs: 3_600_000 });
  const transport = new StuckTransport();
  hub.add({ id: "c1", subject: "", remoteAddr: "", connectedAt: 0, allowed: null }, transport);
  for (let s = 0; s < 20; s++) {
    for (let i = 0; i < 100; i++) {
      store.add(`S${s}`, {
        at: 999_000 + i,
        moisture: i % 100,
        temperature: 20,
        humidity: 50,
        light: 1,
      });
    }
  }
  return { clock, hub, store, replies, transport };
}

Deno.test("history replies", async (t) => {
  await t.step("wait for room in the client's buffer, then all arrive; none is dropped", () => {
    const { clock, hub, replies, transport } = setup();
    assert.deepEqual(replies.request("c1", { type: "history" }), { denied: [] });
    assert.equal(transport.sent.length, 1, "one reply fills the 4 KiB buffer");
    clock.advance(100);
    assert.equal(transport.sent.length, 1, "a stuck reader gets nothing more");
    for (let i = 0; i < 40 && transport.sent.length < 20; i++) {
      transport.bufferedAmount = 0; // the peer reads
      clock.advance(10);
    }
    const sensors = transport.sent.map((t) => JSON.parse(t).data.sensor_id).sort();
    assert.deepEqual(sensors, Array.from({ length: 20 }, (_, s) => `S${s}`).sort());
    assert.ok(transport.sent.every((t) => JSON.parse(t).data.readings.length === 100));
    assert.equal(hub.get("c1")!.dropped, 0);
    assert.equal(clock.pendingTimers, 0, "no timer left once every reply is out");
  });

  await t.step("readings stored after the request are not in its replies (they go live)", () => {
    const { clock, store, replies, transport } = setup();
    replies.request("c1", { type: "history", sensors: ["S1", "S2"] });
    store.add("S2", { at: 999_500, moisture: 99, temperature: 20, humidity: 50, light: 1 });
    transport.bufferedAmount = 0;
    clock.advance(100);
    const s2 = transport.sent.map((t) => JSON.parse(t)).find((m) => m.data.sensor_id === "S2");
    assert.equal(s2.data.readings.length, 100);
  });

  await t.step("a client may have a few requests waiting; more are refused, not queued", () => {
    const { replies } = setup();
    for (let i = 0; i < MAX_PENDING_REQUESTS; i++) {
      assert.ok("denied" in replies.request("c1", { type: "history" }));
    }
    assert.ok("refused" in replies.request("c1", { type: "history" }));
    replies.cancel("c1");
    assert.ok(
      "denied" in replies.request("c1", { type: "history" }),
      "a client that left is forgotten",
    );
    replies.close();
  });
});
