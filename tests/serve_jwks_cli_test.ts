/** `serve --jwks-url`, run as a user runs it, against a local identity provider's JWKS. */
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { within, WsProbe } from "./_helpers.ts";
import { MainProcess } from "./_cli.ts";

/** Tries `token`; says how it ended: `admitted`, or the close code and reason. */
async function attempt(wsUrl: string, token: string): Promise<string> {
  await using probe = new WsProbe(`${wsUrl}?token=${token}`);
  await probe.until((m) => probe.isClosed || m.some((x) => x.type === "connection_status"), 5_000);
  if (probe.of("connection_status").length > 0) return "admitted";
  const { code, reason } = await within(1_000, probe.closed);
  return `${code} ${reason}`;
}

Deno.test("serve --jwks-url admits tokens signed by the provider's key and refuses others with 1008", async (t) => {
  const provider = await generateKeyPair("ES256");
  const stranger = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(provider.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const sign = (key: typeof provider.privateKey, kid?: string) =>
    new SignJWT({}).setProtectedHeader(kid ? { alg: "ES256", kid } : { alg: "ES256" })
      .setSubject("field-team").setIssuedAt().setExpirationTime("10m").sign(key);

  let fetches = 0;
  await using jwks = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/jwks.json") return new Response(null, { status: 404 });
    fetches++;
    return Response.json({ keys: [jwk] });
  });
  const jwksUrl = `http://127.0.0.1:${jwks.addr.port}/jwks.json`;

  await using proc = new MainProcess([
    "serve",
    ...["--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--jwks-url", jwksUrl],
  ]);
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  assert.doesNotMatch(proc.stdout, /WARNING|Token \(valid/, "no development secret or token");

  await t.step("a token signed by the provider's key is admitted", async () => {
    assert.equal(await attempt(wsUrl!, await sign(provider.privateKey, "k1")), "admitted");
    assert.ok(fetches >= 1, "serve fetched the JWKS");
  });
  await t.step("a token signed by another key under the provider's kid gets 1008", async () => {
    assert.equal(
      await attempt(wsUrl!, await sign(stranger.privateKey, "k1")),
      "1008 invalid token",
    );
  });
  await t.step("a token signed by another key without a kid gets 1008", async () => {
    assert.equal(await attempt(wsUrl!, await sign(stranger.privateKey)), "1008 invalid token");
  });
  await t.step("a token whose kid the JWKS does not list gets 1008", async () => {
    assert.equal(
      await attempt(wsUrl!, await sign(stranger.privateKey, "k2")),
      "1008 invalid token",
    );
  });
  assert.equal(await proc.stop("SIGTERM"), 0);
});
