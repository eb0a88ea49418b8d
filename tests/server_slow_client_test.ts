/** A real client that stops reading: latest-value mode, then 1013, while others flow. */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { mintTestToken, rawWebSocketPeer, waitFor } from "./_helpers.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";

/** Many sensors, so each drain of the stalled client moves a lot and fills the kernel buffers. */
const SENSORS = 2_000;

Deno.test("a client that stops reading gets latest values only, then 1013, while others flow", async () => {
  await using server = await startTestServer({
    // A reading client drains within this even on a busy machine; the stalled one never does.
    limits: { maxBufferedBytes: 256 * 1024, slowClientTimeoutMs: 3_000 },
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const metrics = async () => await (await fetch(`${base}/metrics`)).text();
  const gauge = (text: string, name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  await waitFor(() => server.metrics.mqttConnects.value > 0, 5_000);

  // A raw TCP client completes the WebSocket handshake, then never reads again.
  const stalled = await rawWebSocketPeer(server.addr.port, await mintTestToken());
  try {
    await using healthy = await connectClient(server);
    await healthy.next("connection_status");
    await waitFor(() => server.metrics.connections.value === 2, 2_000);

    // Publish at a steady 10,000 readings/s (bounded: at most 30 s) until the stalled client has
    // been closed for being slow; watch the total buffered to clients meanwhile.
    const pub = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0 });
    let published = 0;
    let sawSlow = false;
    let maxBuffered = 0;
    try {
      const deadline = Date.now() + 30_000;
      while (server.metrics.disconnects.get("client too slow") === 0) {
        assert.ok(Date.now() < deadline, "the stalled client was closed with 1013 in time");
        for (let i = 0; i < 1_000; i++, published++) {
          pub.publish(`sensors/S${published % SENSORS}/data`, JSON.stringify(payload()));
        }
        await new Promise((r) => setTimeout(r, 100));
        const text = await metrics();
        sawSlow ||= gauge(text, "sensorstream_slow_clients") > 0;
        maxBuffered = Math.max(maxBuffered, gauge(text, "sensorstream_ws_buffered_bytes"));
      }
    } finally {
      await pub.endAsync();
    }
    assert.ok(sawSlow, "the stalled client was switched to latest-value mode first");
    assert.equal(
      healthy.ws.readyState,
      WebSocket.OPEN,
      "the reading client was not the one closed",
    );
    // Its backlog was coalesced, never queued: readings were replaced by newer ones (more than
    // one per sensor), and the server buffered no more than each client's limit plus a message.
    const m = server.metrics;
    assert.ok(m.conflated.value > SENSORS, `conflated ${m.conflated.value} of ${published}`);
    assert.ok(maxBuffered <= 2 * (256 + 1) * 1024, `buffered up to ${maxBuffered} bytes`);
    // The reading client stays connected and keeps receiving (that it converges on the current
    // values after a backlog is shown with hand-held transports in hub_test.ts).
    assert.ok(healthy.of("sensor_reading").length > 0);
    assert.equal(healthy.ws.readyState, WebSocket.OPEN);
    const text = await metrics();
    assert.equal(gauge(text, "sensorstream_clients"), 1);
    assert.match(text, /sensorstream_disconnects_total\{reason="client too slow"\} 1/);
  } finally {
    stalled.close();
  }
});
