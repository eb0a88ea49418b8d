import assert from "node:assert/strict";
import { runTail, TailError, type TailEvents } from "../tail/client.ts";
import type { ServerMessage } from "../protocol/mod.ts";
import { freePort, waitFor, within } from "./_helpers.ts";
import { DroppingServer, greeting, reading, ScriptedServer, sendAll } from "./_tail_servers.ts";

/** Events that record what the client reports. */
function recorder(onMessage?: (msg: ServerMessage) => void) {
  const messages: ServerMessage[] = [];
  const raws: string[] = [];
  const states: string[] = [];
  const events: TailEvents = {
    onMessage(msg, raw) {
      messages.push(msg);
      raws.push(raw);
      onMessage?.(msg);
    },
    onState(state, detail) {
      states.push(detail ? `${state}: ${detail}` : state);
    },
  };
  const readings = () =>
    messages.flatMap((m) => m.type === "sensor_reading" ? [m.data.moisture] : []);
  return { events, messages, raws, states, readings };
}

const fast = { reconnectMinMs: 10, reconnectMaxMs: 50 };

Deno.test("tail client", async (t) => {
  await t.step("stops after `count` readings and passes each message on as sent", async () => {
    const sent = [...greeting(), ...[1, 2, 3, 4, 5].map((n) => reading("V1", n))];
    await using server = new ScriptedServer((ws) => sendAll(ws, sent));
    const rec = recorder();
    const result = await within(
      5_000,
      runTail({ url: server.url, token: "t", count: 3, connectTimeoutMs: 2_000 }, rec.events),
    );
    assert.deepEqual(result, { reason: "count", readings: 3 });
    assert.deepEqual(rec.messages.map((m) => m.type), [
      "connection_status",
      "bridge_status",
      "sensor_reading",
      "sensor_reading",
      "sensor_reading",
    ]);
    assert.deepEqual(rec.raws, sent.slice(0, 5).map((m) => JSON.stringify(m)));
    assert.deepEqual(rec.states, ["connecting", "connected", "closed: 3 readings"]);
  });

  await t.step("sends the token as a bearer header, never in the URL", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]));
    await within(
      5_000,
      runTail({
        // A token left in the URL (copied from serve's banner) must not go out either.
        url: `${server.url}?token=old.url.token`,
        token: "abc.def.ghi",
        sensors: ["V1", "V3"],
        count: 1,
        connectTimeoutMs: 2_000,
      }, recorder().events),
    );
    assert.equal(server.headers[0]?.get("authorization"), "Bearer abc.def.ghi");
    assert.equal(server.requests[0]?.searchParams.has("token"), false);
    assert.equal(server.requests[0]?.searchParams.get("sensors"), "V1,V3");
  });

  await t.step("a policy close (1008) fails with the server's reason", async () => {
    await using server = new ScriptedServer((ws) => ws.close(1008, "token expired"));
    const rec = recorder();
    const error = await within(
      5_000,
      runTail({ url: server.url, token: "old", connectTimeoutMs: 2_000, ...fast }, rec.events)
        .then(() => undefined, (e) => e),
    );
    assert.ok(error instanceof TailError, String(error));
    assert.equal(error.kind, "auth");
    assert.equal(error.closeReason, "token expired");
    assert.match(error.message, /token expired.*sensorstream token/);
    assert.equal(server.requests.length, 1, "a refused token is not retried");
  });

  await t.step("reconnects after a close with 1001 and passes replayed readings once", async () => {
    await using server = new ScriptedServer((ws, n) => {
      if (n === 1) {
        sendAll(ws, [...greeting(), reading("V1", 1), reading("V2", 2)]);
        ws.close(1001, "server shutting down");
      } else {
        // The server replays the last reading of each sensor, then streams new ones.
        sendAll(ws, [...greeting(), reading("V1", 1), reading("V2", 2), reading("V1", 3)]);
      }
    });
    const rec = recorder();
    const result = await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 3, connectTimeoutMs: 2_000, ...fast },
        rec.events,
      ),
    );
    assert.equal(result.reason, "count");
    assert.deepEqual(rec.readings(), [41, 42, 43]);
    assert.equal(server.requests.length, 2);
    assert.ok(
      rec.states.some((s) => /^reconnecting: connection lost: 1001 server shutting down/.test(s)),
      rec.states.join("\n"),
    );
  });

  await t.step("reconnects after the connection drops without a close frame", async () => {
    await using server = new DroppingServer(
      (n) => [...greeting(), reading("V1", 2 * n - 1), reading("V1", 2 * n)],
      (n) => n < 3,
    );
    const rec = recorder();
    const result = await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 5, connectTimeoutMs: 2_000, ...fast },
        rec.events,
      ),
    );
    assert.equal(result.reason, "count");
    assert.deepEqual(rec.readings(), [41, 42, 43, 44, 45]);
    assert.equal(server.connections, 3);
    assert.ok(rec.states.some((s) => s.startsWith("reconnecting: connection lost")));
  });

  await t.step("asks a token function for a fresh token on every connection", async () => {
    await using server = new ScriptedServer((ws, n) => {
      sendAll(ws, [reading("V1", n)]);
      if (n === 1) ws.close(1011);
    });
    let minted = 0;
    await within(
      5_000,
      runTail({
        url: server.url,
        token: () => `token-${++minted}`,
        count: 2,
        connectTimeoutMs: 2_000,
        ...fast,
      }, recorder().events),
    );
    assert.deepEqual(server.bearers, ["token-1", "token-2"]);
  });

  await t.step("an unreachable server fails after the connect timeout, saying so", async () => {
    const port = freePort();
    const rec = recorder();
    const error = await within(
      5_000,
      runTail(
        { url: `ws://127.0.0.1:${port}/ws/sensors`, token: "t", connectTimeoutMs: 300, ...fast },
        rec.events,
      ).then(() => undefined, (e) => e),
    );
    assert.ok(error instanceof TailError, String(error));
    assert.equal(error.kind, "unreachable");
    assert.equal(
      error.message,
      `Cannot connect to ws://127.0.0.1:${port}/ws/sensors: connection refused. ` +
        "Is `sensorstream serve` running? (gave up after 0.3s)",
    );
    assert.ok(rec.states.some((s) => /^connecting: connection refused; retrying in/.test(s)));
  });

  await t.step("a server that never answers the handshake fails after the timeout", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conns: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of listener) conns.push(conn);
      } catch { /* closed */ }
    })();
    try {
      const url = `ws://127.0.0.1:${listener.addr.port}/ws/sensors`;
      const error = await within(
        5_000,
        runTail({ url, token: "t", connectTimeoutMs: 400, ...fast }, recorder().events)
          .then(() => undefined, (e) => e),
      );
      assert.ok(error instanceof TailError, String(error));
      assert.match(
        error.message,
        /^Cannot connect to .*: no answer within [\d.]+s\..*gave up after 0\.4s/,
      );
    } finally {
      listener.close();
      await accepting;
      for (const c of conns) c.close();
    }
  });

  await t.step("a server that starts late is reached within the connect timeout", async () => {
    const port = freePort();
    const rec = recorder();
    const running = runTail(
      { url: `ws://127.0.0.1:${port}/ws/sensors`, token: "t", count: 1, connectTimeoutMs: 5_000 },
      rec.events,
    );
    await waitFor(() => rec.states.length > 1, 3_000, "a failed first attempt");
    await using _server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]), { port });
    assert.equal((await within(5_000, running)).reason, "count");
  });

  await t.step("an HTTP error answer is reported without waiting for the timeout", async () => {
    await using server = new ScriptedServer(() => {}, { status: 404 });
    const error = await within(
      5_000,
      runTail({ url: server.url, token: "t", connectTimeoutMs: 60_000 }, recorder().events)
        .then(() => undefined, (e) => e),
    );
    assert.ok(error instanceof TailError, String(error));
    assert.match(error.message, /HTTP 404/);
  });

  await t.step("aborting closes the connection and resolves as aborted", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [...greeting(), reading("V1", 1)]));
    const controller = new AbortController();
    const rec = recorder((m) => {
      if (m.type === "sensor_reading") controller.abort();
    });
    const result = await within(
      5_000,
      runTail(
        { url: server.url, token: "t", connectTimeoutMs: 2_000, signal: controller.signal },
        rec.events,
      ),
    );
    assert.deepEqual(result, { reason: "aborted", readings: 1 });
  });

  await t.step("an exception in a handler ends the run with it", async () => {
    await using server = new ScriptedServer((ws) => sendAll(ws, [reading("V1", 1)]));
    const boom = new Error("stdout closed");
    const events: TailEvents = {
      onMessage() {
        throw boom;
      },
      onState() {},
    };
    await assert.rejects(
      within(5_000, runTail({ url: server.url, token: "t", connectTimeoutMs: 2_000 }, events)),
      (e) => e === boom,
    );
  });

  await t.step("a 1013 (try again later) is retried with backoff and said in words", async () => {
    await using server = new ScriptedServer((ws, n) => {
      if (n === 1) ws.close(1013, "auth unavailable");
      else sendAll(ws, [...greeting(), reading("V1", 1)]);
    });
    const rec = recorder();
    const result = await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 1, connectTimeoutMs: 2_000, ...fast },
        rec.events,
      ),
    );
    assert.deepEqual(result, { reason: "count", readings: 1 });
    assert.equal(server.requests.length, 2);
    const said = /^connecting: 1013 auth unavailable; retrying in \d+\.\ds$/;
    assert.ok(rec.states.some((s) => said.test(s)), rec.states.join("\n"));
  });

  await t.step("repeated 1013s back off further even when readings came first", async () => {
    await using server = new ScriptedServer((ws, n) => {
      sendAll(ws, [...greeting(), reading("V1", n)]);
      if (n < 4) ws.close(1013, "client too slow");
    });
    const delays: number[] = [];
    const rec = recorder();
    await within(
      5_000,
      runTail(
        { url: server.url, token: "t", count: 4, connectTimeoutMs: 2_000, reconnectMinMs: 10 },
        rec.events,
        { random: () => 0.5, sleep: (ms) => Promise.resolve(void delays.push(ms)) },
      ),
    );
    assert.equal(delays.length, 3);
    // 4x the first delay to start with, then doubling: not back to 10 ms after each reading.
    assert.deepEqual(delays, [30, 60, 120]);
    assert.ok(
      rec.states.some((s) => /^reconnecting: connection lost: 1013 client too slow/.test(s)),
    );
  });

  await t.step("remembers the last reading of at most maxSensors sensors", async () => {
    const sent = [reading("V1", 1), reading("V2", 2), reading("V3", 3)];
    await using server = new ScriptedServer((ws, n) => {
      if (n === 1) {
        sendAll(ws, sent);
        ws.close(1001);
        // The replay: V3 and V2 are still remembered, V1 was forgotten to keep within 2.
      } else sendAll(ws, [sent[2]!, sent[1]!, sent[0]!, reading("V4", 4)]);
    });
    const controller = new AbortController();
    const rec = recorder((m) => {
      if (m.type === "sensor_reading" && m.data.sensor_id === "V4") controller.abort();
    });
    await within(
      5_000,
      runTail({
        url: server.url,
        token: "t",
        connectTimeoutMs: 2_000,
        maxSensors: 2,
        signal: controller.signal,
        ...fast,
      }, rec.events),
    );
    const ids = rec.messages.flatMap((m) => m.type === "sensor_reading" ? [m.data.sensor_id] : []);
    assert.deepEqual(ids, ["V1", "V2", "V3", "V1", "V4"]);
  });
});
