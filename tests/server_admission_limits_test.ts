/** Who gets in, as a client sees it: the client limit and a malformed `?sensors=`. */
import assert from "node:assert/strict";
import { within } from "./_helpers.ts";
import { scrape, waitForMetric } from "./_http.ts";
import { connectClient, startTestServer } from "./_server.ts";

Deno.test("with maxClients 2 a third client is closed with 1013 server full, and gets in once one leaves", async () => {
  await using server = await startTestServer({ limits: { maxClients: 2 } });
  await using first = await connectClient(server);
  await first.next("connection_status");
  const second = await connectClient(server);
  try {
    assert.equal((await second.next("connection_status")).data.active_clients, 2);

    await using third = await connectClient(server);
    assert.deepEqual(await within(3_000, third.closed, "the third client's close"), {
      code: 1013,
      reason: "server full",
    });
    assert.deepEqual(third.messages, [], "a refused client gets no messages");
    assert.equal(
      await scrape(server.httpUrl, "sensorstream_connections_rejected_total", {
        reason: "server full",
      }),
      1,
    );
  } finally {
    await second.close();
  }

  // Once the server has let go of the client that left, a newcomer is admitted.
  await waitForMetric(server.httpUrl, "sensorstream_clients", (n) => n === 1);
  await using again = await connectClient(server);
  assert.equal((await again.next("connection_status")).data.active_clients, 2);
  assert.equal(first.ws.readyState, WebSocket.OPEN, "the client that stayed is still connected");
});

Deno.test("?sensors= naming an invalid sensor id closes with 1008 invalid sensors parameter", async () => {
  await using server = await startTestServer();
  await using refused = await connectClient(server, { sensors: "V1,bad id" });
  assert.deepEqual(await within(3_000, refused.closed, "the close"), {
    code: 1008,
    reason: "invalid sensors parameter",
  });
  assert.deepEqual(refused.messages, [], "a refused client gets no messages");

  // The same list without the bad id is fine.
  await using admitted = await connectClient(server, { sensors: "V1,V2" });
  assert.equal((await admitted.next("connection_status")).data.status, "connected");
});
