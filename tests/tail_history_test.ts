/** tail and history: what it asks for, what it passes on once, and what it says of a resume. */
import assert from "node:assert/strict";
import { type Notice, runTail, type TailEvents } from "../tail/client.ts";
import { historyRequests, ReadingMemory, ResumeTally } from "../tail/history.ts";
import { describeNotice } from "../tail/notices.ts";
import {
  ClientMessageSchema,
  MAX_CLIENT_MESSAGE_BYTES,
  type SensorReadingMessage,
  type ServerMessage,
} from "../protocol/mod.ts";
import { waitFor, within } from "./_helpers.ts";
import {
  greeting,
  historyReply,
  reading,
  ScriptedServer,
  sendAll,
  stored,
  timeOf,
} from "./_tail_servers.ts";

const fast = { reconnectMinMs: 10, reconnectMaxMs: 50 };

/** Events that record messages, history readings passed on, and notices. */
function recorder() {
  const messages: ServerMessage[] = [];
  const history: SensorReadingMessage[][] = [];
  const notices: Notice[] = [];
  const events: TailEvents = {
    onMessage: (msg) => void messages.push(msg),
    onState() {},
    onHistory: (readings) => void history.push(readings),
    onNotice: (notice) => void notices.push(notice),
  };
  const moisture = () =>
    messages.flatMap((m) => m.type === "sensor_reading" ? [m.data.moisture] : []);
  return { events, messages, history, notices, moisture };
}

Deno.test("reading memory", async (t) => {
  await t.step("passes a live reading once, however often the server sends it", () => {
    const memory = new ReadingMemory(10);
    const r = reading("V1", 1) as SensorReadingMessage;
    assert.equal(memory.takeLive(r), true);
    assert.equal(memory.takeLive(structuredClone(r)), false);
    assert.equal(memory.takeLive(reading("V1", 2) as SensorReadingMessage), true);
  });

  await t.step("keeps readings of a stuck clock apart by their values", () => {
    const memory = new ReadingMemory(10);
    const stuck = (moisture: number) => ({ ...reading("V1", 1, moisture) }) as SensorReadingMessage;
    assert.equal(memory.takeLive(stuck(40)), true);
    assert.equal(memory.takeLive(stuck(41)), true);
  });

  await t.step("hands on only the history readings it has not passed on", () => {
    const memory = new ReadingMemory(10);
    memory.takeLive(reading("V1", 5) as SensorReadingMessage);
    const fresh = memory.takeHistory("V1", [stored(3), stored(4), stored(5)]);
    assert.deepEqual(fresh.map((r) => r.timestamp), [timeOf(3), timeOf(4)]);
    assert.deepEqual(fresh[0], { ...reading("V1", 3) });
    assert.deepEqual(memory.takeHistory("V1", [stored(4)]), [], "a reply repeated");
  });

  await t.step("resumes each sensor after its newest reading, not its last received", () => {
    const memory = new ReadingMemory(10);
    memory.takeLive(reading("V1", 9) as SensorReadingMessage);
    memory.takeHistory("V1", [stored(3), stored(4)]);
    memory.takeLive(reading("V2", 2) as SensorReadingMessage);
    assert.deepEqual(memory.resumePoints(), { V1: timeOf(9), V2: timeOf(2) });
  });

  await t.step("remembers at most `max` sensors", () => {
    const memory = new ReadingMemory(2);
    for (const id of ["V1", "V2", "V3"]) memory.takeLive(reading(id, 1) as SensorReadingMessage);
    assert.equal(memory.size, 2);
    assert.deepEqual(Object.keys(memory.resumePoints()), ["V2", "V3"]);
  });
});

Deno.test("history requests and resume summaries", async (t) => {
  await t.step("first connection: the last `limit` readings, or nothing for 0", () => {
    assert.deepEqual(historyRequests({ resume: undefined, limit: 20 }), [{
      type: "history",
      limit: 20,
    }]);
    assert.deepEqual(historyRequests({ resume: undefined, limit: 0 }), []);
  });

  await t.step("reconnect: since per sensor; with nothing remembered, as a first one", () => {
    assert.deepEqual(historyRequests({ resume: { V1: timeOf(1) }, limit: 0 }), [{
      type: "history",
      since: { V1: timeOf(1) },
    }]);
    assert.deepEqual(historyRequests({ resume: {}, limit: 5 }), [{ type: "history", limit: 5 }]);
    const odd = historyRequests({
      resume: Object.fromEntries([["__proto__", timeOf(1)]]),
      limit: 0,
    });
    assert.equal(JSON.stringify(odd), `[{"type":"history","since":{"__proto__":"${timeOf(1)}"}}]`);
  });

  await t.step("a resume of many long ids is split to fit the server's size limit", () => {
    const resume = Object.fromEntries(
      Array.from({ length: 1_000 }, (_, i) => [`${i}`.padStart(64, "s"), timeOf(i % 60)]),
    );
    const requests = historyRequests({ resume, limit: 0 });
    assert.ok(requests.length >= 2 && requests.length <= 4, `${requests.length} requests`);
    for (const r of requests) {
      const text = JSON.stringify(r);
      assert.ok(new TextEncoder().encode(text).length <= MAX_CLIENT_MESSAGE_BYTES, "too large");
      assert.ok(ClientMessageSchema.safeParse(r).success, "not a valid request");
    }
    const asked = requests.flatMap((r) => Object.entries(r.since as Record<string, string>));
    assert.deepEqual(Object.fromEntries(asked), resume);
  });

  await t.step(
    "a tally ends with the last sensor named; incomplete or silent ones are gaps",
    () => {
      const tally = new ResumeTally(["V1", "V2", "V3"]);
      assert.equal(tally.take("V1", 4, true), false);
      assert.equal(tally.take("V9", 7, true), false, "a reply it did not ask for is not counted");
      assert.equal(tally.take("V2", 1, false), false);
      assert.deepEqual(tally.summary(), { readings: 5, gaps: ["V2", "V3"] });
      assert.equal(tally.take("V3", 0, true), true);
      assert.deepEqual(tally.summary(), { readings: 5, gaps: ["V2"] });
    },
  );

  await t.step("says what a resume brought back in one line", () => {
    const said = (readings: number, gaps: string[]) =>
      describeNotice({ kind: "resumed", readings, gaps });
    assert.equal(said(12, []), "resumed: 12 readings");
    assert.equal(said(1, []), "resumed: 1 reading");
    assert.equal(said(3, ["V2"]), "gap: history incomplete for V2 (resumed 3 readings)");
    const many = Array.from({ length: 8 }, (_, i) => `S${i}`);
    assert.equal(
      said(0, many),
      "gap: history incomplete for S0, S1, S2, S3, S4 and 3 more (resumed 0 readings)",
    );
  });
});

Deno.test("tail client and history over a socket", async (t) => {
  await t.step("asks for `history` readings once admitted and passes on the new ones", async () => {
    await using server = new ScriptedServer((ws) => {
      // The connect snapshot (reading 5) is also the newest reading of the history reply.
      sendAll(ws, [...greeting(), reading("V1", 5)]);
      ws.onmessage = () => sendAll(ws, [historyReply("V1", [2, 3, 4, 5]), reading("V1", 6)]);
    });
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 2, history: 7, connectTimeoutMs: 2_000 },
        rec.events,
      ),
    );
    assert.deepEqual(server.received[0], [{ type: "history", limit: 7 }]);
    assert.deepEqual(rec.history.map((h) => h.map((r) => r.data.moisture)), [[42, 43, 44]]);
    assert.deepEqual(rec.moisture(), [45, 46], "history readings are no live readings");
    assert.ok(rec.messages.some((m) => m.type === "history"), "the reply is passed on as sent");
    assert.deepEqual(rec.notices, [], "a first connection resumes nothing");
  });

  await t.step("asks for nothing with history 0 (the default)", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [...greeting(), reading("V1", 1)]));
    await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 1, connectTimeoutMs: 2_000 },
        recorder().events,
      ),
    );
    assert.deepEqual(server.received[0], []);
  });

  await t.step(
    "after a reconnect asks for each sensor since its newest reading and says resumed: N",
    async () => {
      await using server = new ScriptedServer((ws, n) => {
        if (n === 1) {
          sendAll(ws, [...greeting(), reading("V1", 1), reading("V1", 2), reading("V2", 3)]);
          // Goes away once asked for history (unanswered: the readings are the point here).
          ws.onmessage = () => ws.close(1001, "server shutting down");
          return;
        }
        // Snapshot: V1's newest (6, missed), V2's replay (3, seen).
        sendAll(ws, [...greeting(), reading("V1", 6), reading("V2", 3)]);
        ws.onmessage = () => {
          sendAll(ws, [historyReply("V1", [4, 5, 6]), historyReply("V2", [])]);
          sendAll(ws, [reading("V1", 7)]);
        };
      });
      const rec = recorder();
      await within(
        5_000,
        runTail(
          { url: server.url, token: "t", count: 5, history: 3, connectTimeoutMs: 2_000, ...fast },
          rec.events,
        ),
      );
      assert.deepEqual(server.received[0], [{ type: "history", limit: 3 }]);
      assert.deepEqual(server.received[1], [
        { type: "history", since: { V1: timeOf(2), V2: timeOf(3) } },
      ]);
      assert.deepEqual(rec.moisture(), [41, 42, 43, 46, 47], "the replay of V2 is passed once");
      assert.deepEqual(rec.history.map((h) => h.map((r) => r.data.moisture)), [[44, 45], []]);
      assert.deepEqual(rec.notices, [{ kind: "resumed", readings: 2, gaps: [] }]);
    },
  );

  await t.step("a reply with complete: false is a gap", async () => {
    await using server = new ScriptedServer((ws, n) => {
      if (n === 1) {
        sendAll(ws, [...greeting(), reading("V1", 1), reading("V2", 2)]);
        ws.close(1001);
        return;
      }
      sendAll(ws, greeting());
      ws.onmessage = () => {
        sendAll(ws, [historyReply("V1", [8, 9], false), historyReply("V2", [3])]);
        sendAll(ws, [reading("V1", 10)]);
      };
    });
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 3, connectTimeoutMs: 2_000, ...fast },
        rec.events,
      ),
    );
    assert.deepEqual(rec.notices, [{ kind: "resumed", readings: 3, gaps: ["V1"] }]);
    assert.equal(
      describeNotice(rec.notices[0]!),
      "gap: history incomplete for V1 (resumed 3 readings)",
    );
  });

  await t.step("a server that never answers leaves no timer behind when the run ends", async () => {
    await using server = new ScriptedServer((ws, n) => {
      sendAll(ws, [...greeting(), reading("V1", n)]);
      if (n === 1) ws.close(1001);
    });
    const controller = new AbortController();
    const rec = recorder();
    const run = runTail(
      { url: server.url, token: "t", connectTimeoutMs: 2_000, signal: controller.signal, ...fast },
      rec.events,
    );
    await waitFor(() => server.received[1]?.length === 1, 3_000, "the resume request");
    controller.abort();
    assert.equal((await within(3_000, run)).reason, "aborted");
    assert.deepEqual(rec.notices, [], "an unfinished resume says nothing");
  });
});
