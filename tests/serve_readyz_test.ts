/**
 * `/readyz`, as a load balancer reads it: 200 while the broker link is up, 503 with a JSON
 * reason while it is down and while the server shuts down.
 */
import assert from "node:assert/strict";
import { mintTestToken, rawWebSocketPeer, startMosquitto, waitFor, within } from "./_helpers.ts";
import { readyz, waitForReadyz } from "./_http.ts";
import { startTestServer } from "./_server.ts";

Deno.test("/readyz is 200 while the broker link is up and 503 'MQTT broker link is down' while it is not", async () => {
  await using broker = await startMosquitto();
  await using server = await startTestServer({ mqtt: { url: broker.url } });

  const up = await waitForReadyz(server.httpUrl, 200);
  assert.equal(up.body.mqtt, "connected");

  await broker.kill();
  const down = await waitForReadyz(server.httpUrl, 503);
  assert.deepEqual(down.body, {
    status: "not ready",
    mqtt: "disconnected",
    reason: "MQTT broker link is down",
  });

  await broker.restart();
  const back = await waitForReadyz(server.httpUrl, 200);
  assert.equal(back.body.mqtt, "connected");
});

Deno.test("/readyz is 503 'shutting down' while the server shuts down", async () => {
  const server = await startTestServer();
  let peer: Deno.TcpConn | undefined;
  let stopping: Promise<void> | undefined;
  try {
    await waitForReadyz(server.httpUrl, 200);
    // A client that never answers the server's close frame: shutdown waits for it (up to its
    // grace period) before it cuts the listener, and meanwhile the listener still answers.
    peer = await rawWebSocketPeer(server.addr.port, await mintTestToken());
    await waitFor(() => server.sockets === 1, 2_000, "the peer admitted");
    stopping = server.shutdown();
    const answer = await readyz(server.httpUrl);
    assert.deepEqual(answer, {
      status: 503,
      body: { status: "not ready", reason: "shutting down" },
    });
  } finally {
    await within(5_000, stopping ?? server.shutdown(), "shutdown");
    peer?.close();
  }
});
