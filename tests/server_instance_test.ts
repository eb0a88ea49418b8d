/** `connection_status.instance` tells a client which serving process it landed on. */
import assert from "node:assert/strict";
import { connectClient, startTestServer } from "./_server.ts";

Deno.test("connection_status names the instance: host:port by default, or as configured", async () => {
  {
    await using server = await startTestServer();
    await using probe = await connectClient(server);
    const status = await probe.next("connection_status");
    assert.ok(
      status.data.instance?.endsWith(`:${server.addr.port}`),
      `instance ${status.data.instance}`,
    );
  }
  await using server = await startTestServer({ instance: "edge-2:8000/1" });
  await using probe = await connectClient(server);
  assert.equal((await probe.next("connection_status")).data.instance, "edge-2:8000/1");
});
