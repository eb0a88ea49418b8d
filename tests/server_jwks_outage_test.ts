/**
 * An identity-provider outage is "try again later" (1013 `auth unavailable`), never "your token
 * is wrong"; keys fetched before the outage keep working; one fetch at a time, time-bounded.
 */
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { jwksKeys } from "../server/jwks.ts";
import { recordingLogger, within, WsProbe } from "./_helpers.ts";
import { startTestServer } from "./_server.ts";

/** A JWKS endpoint whose behaviour the test switches: up, failing (500), or hanging. */
class Provider implements AsyncDisposable {
  mode: "up" | "error" | "hang" | "slow" | "gated" = "up";
  /** In `gated` mode, answers wait for this. */
  readonly gate = Promise.withResolvers<void>();
  fetches = 0;
  #inFlight = 0;
  maxInFlight = 0;
  readonly #release = Promise.withResolvers<void>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(keys: unknown[]) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
      this.fetches++;
      this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
      try {
        if (this.mode === "hang") await this.#release.promise;
        if (this.mode === "slow") await new Promise((r) => setTimeout(r, 300));
        if (this.mode === "gated") await this.gate.promise;
        if (this.mode === "error") return new Response("upstream down", { status: 503 });
        return Response.json({ keys });
      } finally {
        this.#inFlight--;
      }
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/jwks.json`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#release.resolve();
    this.gate.resolve();
    await this.#server.shutdown();
  }
}

const { privateKey, publicKey } = await generateKeyPair("ES256");
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
const sign = (kid = "k1") =>
  new SignJWT({}).setProtectedHeader({ alg: "ES256", kid }).setSubject("field-team")
    .setExpirationTime("10m").sign(privateKey);

/** Connects with a token; resolves how the attempt ended. */
async function attempt(wsUrl: string, token: string) {
  const probe = new WsProbe(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await probe.opened.catch(() => {});
  await probe.until((m) => probe.isClosed || m.some((x) => x.type === "connection_status"), 5_000);
  const admitted = probe.of("connection_status").length > 0;
  const closed = await probe.close();
  return admitted ? "admitted" : `${closed.code} ${closed.reason}`;
}

Deno.test("a JWKS outage closes with 1013 'auth unavailable'; fetched keys keep working", async (t) => {
  await using provider = new Provider([jwk]);
  const { logger, lines } = recordingLogger();
  await using server = await startTestServer(
    { auth: { secret: undefined, jwksUrl: provider.url } },
    // Keys go stale at once and a failure is retried after 50 ms, so each step refetches.
    { logger, jwks: { timeoutMs: 300, cacheMaxAgeMs: 0, retryAfterMs: 50 } },
  );
  const token = await sign();

  await t.step("provider down before any key was fetched: 1013, and the log says why", async () => {
    provider.mode = "error";
    assert.equal(await attempt(server.wsUrl, token), "1013 auth unavailable");
    const rejected = lines.find((l) => l.event === "client rejected");
    assert.equal(rejected?.fields.code, 1013);
    assert.match(String(rejected?.fields.detail), /cannot fetch the JWKS/);
    assert.ok(!JSON.stringify(lines).includes(token), "the token is never logged");
    assert.equal(server.metrics.rejections.get("invalid token"), 0);
  });

  await t.step("provider back: the same token gets in", async () => {
    provider.mode = "up";
    // An attempt may still fall in the 50 ms pause after the last failure: retry for a while.
    let outcome = "";
    const deadline = Date.now() + 3_000;
    while (outcome !== "admitted" && Date.now() < deadline) {
      outcome = await attempt(server.wsUrl, token);
    }
    assert.equal(outcome, "admitted");
  });

  await t.step("provider hanging: stale keys still admit, one fetch at a time", async () => {
    provider.mode = "hang";
    const before = provider.fetches;
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => attempt(server.wsUrl, token)),
    );
    assert.deepEqual(outcomes, Array(5).fill("admitted"));
    assert.equal(provider.maxInFlight, 1);
    assert.ok(
      provider.fetches - before <= 2,
      `fetches during the outage: ${provider.fetches - before}`,
    );
  });

  await t.step("provider failing and an unknown kid: 1013, since a new key may exist", async () => {
    provider.mode = "error";
    assert.equal(await attempt(server.wsUrl, await sign("rotated")), "1013 auth unavailable");
  });
});

Deno.test("stale keys are served for at most the stale limit", async () => {
  await using provider = new Provider([jwk]);
  let offset = 0;
  const keys = jwksKeys(new URL(provider.url), {
    cacheMaxAgeMs: 0,
    retryAfterMs: 0,
    staleMaxMs: 60_000,
    now: () => Date.now() + offset,
  });
  const header = { alg: "ES256", kid: "k1" };
  await keys(header, { payload: "", signature: "" } as never);
  provider.mode = "error";
  await keys(header, { payload: "", signature: "" } as never);
  offset = 61_000;
  await assert.rejects(
    async () => await keys(header, { payload: "", signature: "" } as never),
    (e: Error) => e.name === "JwksUnavailableError" && /JWKS/.test(e.message),
  );
});

Deno.test("before its token is checked, a socket holds only a few text frames", async (t) => {
  await using provider = new Provider([jwk]);
  provider.mode = "slow"; // the token check takes 300 ms: the client talks meanwhile
  await using server = await startTestServer(
    { auth: { secret: undefined, jwksUrl: provider.url } },
    { jwks: { cacheMaxAgeMs: 0 } }, // every token check fetches, so the provider sets its pace
  );
  const connect = async () => {
    const probe = new WsProbe(server.wsUrl, {
      headers: { authorization: `Bearer ${await sign()}` },
    });
    await probe.opened;
    return probe;
  };
  await t.step("binary frames are dropped, text frames beyond 16 too", async () => {
    await using probe = await connect();
    probe.ws.send(new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 20; i++) probe.send({ type: "ping" });
    await probe.next("connection_status", 5_000);
    probe.send({ type: "ping" });
    await probe.until((m) => m.filter((x) => x.type === "pong").length === 17);
    assert.equal(probe.of("error").length, 0, "nothing early was answered with an error");
  });
  await t.step("a frame over the message limit closes the socket with 1009", async () => {
    provider.mode = "gated"; // the token check waits until the close has come
    await using probe = await connect();
    probe.send("x".repeat(70 * 1024));
    try {
      assert.deepEqual(await within(5_000, probe.closed), {
        code: 1009,
        reason: "message too big",
      });
    } finally {
      provider.gate.resolve();
    }
    assert.equal(probe.of("connection_status").length, 0);
  });
});

Deno.test("an expired token is 1008 even while the identity provider is down", async () => {
  await using provider = new Provider([jwk]);
  provider.mode = "error";
  await using server = await startTestServer(
    { auth: { secret: undefined, jwksUrl: provider.url } },
    { jwks: { timeoutMs: 300 } },
  );
  const expired = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setSubject("old").setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(privateKey);
  assert.equal(await attempt(server.wsUrl, expired), "1008 token expired");
  assert.equal(provider.fetches, 0, "no key was looked up for it");
});
