/**
 * The token matrix through a real server, in both transports (`?token=` and
 * `Authorization: Bearer`): nothing but a valid token gets a client in.
 */
import assert from "node:assert/strict";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { TEST_SECRET, WsProbe } from "./_helpers.ts";
import { startTestServer } from "./_server.ts";

const ISSUER = "https://id.example";
const AUDIENCE = "sensorstream";
const key = new TextEncoder().encode(TEST_SECRET);
const now = () => Math.floor(Date.now() / 1000);

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** An HS256 token with the given claims over sensible defaults (`undefined` drops a claim). */
async function hs256(claims: Record<string, unknown> = {}, secret = key): Promise<string> {
  const all: Record<string, unknown> = {
    sub: "tester",
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now(),
    exp: now() + 600,
    ...claims,
  };
  for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
  return await new SignJWT(all).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
}

/** Opens a socket with `token` in the query or the header; returns how it ended. */
async function attempt(
  wsUrl: string,
  token: string,
  transport: "query" | "header",
): Promise<{ admitted: boolean; code: number; reason: string }> {
  const probe = transport === "query"
    ? new WsProbe(`${wsUrl}?token=${encodeURIComponent(token)}`)
    : new WsProbe(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await probe.opened.catch(() => {});
  await probe.until((m) => probe.isClosed || m.some((x) => x.type === "connection_status"));
  const admitted = probe.of("connection_status").length > 0;
  const closed = await probe.close();
  return { admitted, ...closed };
}

Deno.test("the token matrix: no bad token gets in, by query or by header", async (t) => {
  await using server = await startTestServer({ auth: { issuer: ISSUER, audience: AUDIENCE } });
  const wrongKey = new TextEncoder().encode("another-secret-another-secret-0123456");
  const cases: Array<[string, () => Promise<string>, string]> = [
    ["alg none", () => {
      const body = b64url({ sub: "mallory", iss: ISSUER, aud: AUDIENCE, exp: now() + 600 });
      return Promise.resolve(`${b64url({ alg: "none", typ: "JWT" })}.${body}.`);
    }, "invalid token"],
    ["wrong key", () => hs256({}, wrongKey), "invalid token"],
    ["expired", () => hs256({ iat: now() - 7200, exp: now() - 3600 }), "token expired"],
    ["nbf in the future", () => hs256({ nbf: now() + 600 }), "invalid token"],
    ["iat in the future", () => hs256({ iat: now() + 600 }), "invalid token"],
    ["no exp", () => hs256({ exp: undefined }), "invalid token"],
    ["wrong iss", () => hs256({ iss: "https://evil.example" }), "invalid token"],
    ["wrong aud", () => hs256({ aud: "someone-else" }), "invalid token"],
    ["malformed", () => Promise.resolve("not.a.jwt"), "invalid token"],
    ["9 KiB token", async () => (await hs256()) + "A".repeat(9 * 1024), "invalid token"],
    ["64 KiB token", async () => (await hs256()) + "A".repeat(64 * 1024), "invalid token"],
  ];
  let admitted = 0;
  for (const [name, make, reason] of cases) {
    for (const transport of ["query", "header"] as const) {
      await t.step(`${name} (${transport}) -> refused`, async () => {
        const end = await attempt(server.wsUrl, await make(), transport);
        if (end.admitted) admitted++;
        assert.equal(end.admitted, false);
        // Browsers cannot read an HTTP refusal, so refusals are close frames with a reason;
        // a request too large for the HTTP parser may instead fail before the upgrade.
        if (end.code !== 0 && end.code !== 1006) {
          assert.deepEqual([end.code, end.reason], [1008, reason]);
        }
      });
    }
  }
  await t.step("an Authorization header that is not Bearer does not hide ?token=", async () => {
    // A browser behind a Basic-auth proxy sends its Basic credentials on the upgrade too.
    const probe = new WsProbe(`${server.wsUrl}?token=${await hs256()}`, {
      headers: { authorization: "Basic ZmllbGQ6dGVhbQ==" },
    });
    await probe.next("connection_status");
    await probe.close();
  });
  await t.step("a valid token gets in by either transport", async () => {
    for (const transport of ["query", "header"] as const) {
      assert.equal((await attempt(server.wsUrl, await hs256(), transport)).admitted, true);
    }
  });
  assert.equal(admitted, 0);
});

Deno.test("JWKS mode refuses an HS256 token signed with the provider's RSA public key", async () => {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  await using jwks = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ keys: [jwk] }),
  );
  await using server = await startTestServer({
    auth: { secret: undefined, jwksUrl: `http://127.0.0.1:${jwks.addr.port}/jwks.json` },
  });
  // The classic confusion: the public key, which anyone has, used as an HMAC secret.
  const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
  const forged = await new SignJWT({ sub: "mallory", exp: now() + 600 })
    .setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(pem);
  for (const transport of ["query", "header"] as const) {
    const end = await attempt(server.wsUrl, forged, transport);
    assert.deepEqual(end, { admitted: false, code: 1008, reason: "invalid token" });
  }
  const genuine = await new SignJWT({ sub: "alice", exp: now() + 600 })
    .setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(rsa.privateKey);
  assert.equal((await attempt(server.wsUrl, genuine, "header")).admitted, true);
});

Deno.test("tokens without exp are accepted only with --jwt-allow-no-exp", async () => {
  await using server = await startTestServer({ auth: { allowNoExp: true } });
  const token = await hs256({ exp: undefined, iss: undefined, aud: undefined });
  assert.equal((await attempt(server.wsUrl, token, "query")).admitted, true);
});
