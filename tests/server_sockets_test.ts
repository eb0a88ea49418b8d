/**
 * Every socket is released however it ends, so aborted handshakes and silent peers can never
 * lock valid clients out. Raw TCP peers reset at each stage of the handshake.
 */
import assert from "node:assert/strict";
import type { ServerHandle } from "../server/server.ts";
import { mintTestToken, rawWebSocketPeer, recordingLogger, waitFor, within } from "./_helpers.ts";
import { resetAt, type ResetStage } from "./_raw_peers.ts";
import { connectClient, startTestServer } from "./_server.ts";

/** A gauge or unlabelled counter from `/metrics`, as a scraper reads it. */
export async function scrape(server: ServerHandle, name: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** Small limits, so a handful of leaked sockets would lock everyone out. */
const LIMITS = { maxClients: 2, maxPendingSockets: 3, idleTimeoutMs: 1_000 };
/** Every socket must be released within the idle timeout plus a few seconds. */
const RELEASE_MS = LIMITS.idleTimeoutMs + 3_000;

async function assertValidClientConnects(server: ServerHandle): Promise<void> {
  const res = await fetch(`${server.httpUrl}/healthz`);
  await res.body?.cancel();
  await using probe = await connectClient(server);
  const status = await probe.next("connection_status");
  assert.equal(status.data.status, "connected");
}

Deno.test({
  name: "peers that reset at any stage of the handshake are released; a valid client gets in",
  // Deno never completes a handshake whose peer reset before the 101 was written (the upgrade
  // op stays pending inside the runtime, with its socket): the "request" stage leaks that op.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { logger, lines } = recordingLogger();
    await using server = await startTestServer({ limits: LIMITS }, { logger });
    assert.equal(await scrape(server, "sensorstream_sockets"), 0);
    const stages: ResetStage[] = ["connect", "partial-request", "request", "upgraded"];
    for (const stage of stages) {
      await t.step(`reset ${stage}: released, then a valid client connects`, async () => {
        // Three times the socket limit: without the release, the last ones get HTTP 503.
        const token = await mintTestToken();
        for (let i = 0; i < 15; i++) await resetAt(server.addr.port, stage, token);
        await waitFor(
          () => server.sockets === 0,
          RELEASE_MS,
          `sockets released after resets at ${stage}`,
        );
        assert.equal(await scrape(server, "sensorstream_sockets"), 0);
        await assertValidClientConnects(server);
      });
    }
    await t.step("admitted clients that reset are out of the hub and logged once", async () => {
      const from = lines.length;
      for (let i = 0; i < 4; i++) {
        const admitted = server.metrics.connections.value;
        const conn = await rawWebSocketPeer(server.addr.port, await mintTestToken());
        await waitFor(() => server.metrics.connections.value > admitted, 3_000, "admission");
        conn.close();
      }
      await waitFor(() => server.sockets === 0, RELEASE_MS, "admitted sockets released");
      assert.equal(await scrape(server, "sensorstream_clients"), 0);
      const gone = lines.slice(from).filter((l) => l.event === "client disconnected");
      assert.equal(gone.length, 4, "each disconnect is logged once");
      for (const line of gone) assert.equal(line.fields.by, "peer");
      assert.ok(!lines.some((l) => l.event.includes("send failed")));
      await assertValidClientConnects(server);
    });
  },
});

Deno.test("a peer that never answers our close frame is released after the grace period", async () => {
  await using server = await startTestServer({ limits: LIMITS });
  const cap = LIMITS.maxClients + LIMITS.maxPendingSockets;
  const silent: Deno.TcpConn[] = [];
  try {
    // Each is refused (bad token), sent a close frame, and then says nothing, holding TCP open.
    for (let i = 0; i < cap; i++) silent.push(await rawWebSocketPeer(server.addr.port, "bad"));
    await waitFor(() => server.metrics.rejections.get("invalid token") === cap, 3_000, "refusals");
    // While they hold their sockets, the server is at its socket limit...
    await assert.rejects(rawWebSocketPeer(server.addr.port, "bad"), /503/);
    // ...until the close grace runs out and they are released.
    await waitFor(() => server.sockets === 0, RELEASE_MS, "silent sockets released");
    assert.equal(server.metrics.socketsAbandoned.get("close"), cap);
    // Deno still holds them while their peers hold TCP: visible, but not counted for admission.
    assert.equal(await scrape(server, "sensorstream_sockets_lingering"), cap);
    await assertValidClientConnects(server);
  } finally {
    for (const conn of silent) conn.close();
  }
  await waitFor(() => server.sockets === 0, RELEASE_MS);
  let lingering = cap;
  const deadline = Date.now() + RELEASE_MS;
  while (lingering > 0 && Date.now() < deadline) {
    lingering = await scrape(server, "sensorstream_sockets_lingering");
  }
  assert.equal(lingering, 0, "a lingering socket is forgotten once its peer lets go");
});

Deno.test("an idle peer that stops answering pings is dropped within the idle timeout", async () => {
  await using server = await startTestServer({ limits: LIMITS });
  const conn = await rawWebSocketPeer(server.addr.port, await mintTestToken());
  try {
    await waitFor(() => server.metrics.connections.value === 1);
    assert.equal(await scrape(server, "sensorstream_clients"), 1);
    // It reads nothing and answers no ping: Deno closes it after the idle timeout.
    await waitFor(() => server.sockets === 0, RELEASE_MS, "dead peer dropped");
    assert.equal(await scrape(server, "sensorstream_clients"), 0);
    assert.equal(server.metrics.disconnects.get("idle timeout"), 1);
  } finally {
    conn.close();
  }
});

Deno.test("sensorstream_sockets counts open sockets and returns to its baseline", async () => {
  await using server = await startTestServer({ limits: LIMITS });
  assert.equal(await scrape(server, "sensorstream_sockets"), 0);
  await using a = await connectClient(server);
  await a.next("connection_status");
  assert.equal(await scrape(server, "sensorstream_sockets"), 1);
  await using b = await connectClient(server, { token: "refused" });
  assert.equal((await within(3_000, b.closed)).code, 1008);
  await waitFor(() => server.sockets === 1, 3_000, "refused socket released");
  await a.close();
  await waitFor(() => server.sockets === 0, 3_000, "closed socket released");
  assert.equal(await scrape(server, "sensorstream_sockets"), 0);
});
