/** Token verification: what is accepted, and which close reason each refusal carries. */
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { AuthConfig } from "../server/config.ts";
import { type Claims, createVerifier, type Verifier } from "../server/auth.ts";
import { AuthError, type AuthErrorCode } from "../server/errors.ts";
import { OptionError } from "../lib/errors.ts";
import { mintToken } from "../server/token.ts";
import { freePort, TEST_SECRET } from "./_helpers.ts";

const T0 = Date.UTC(2030, 0, 1); // a fixed "now", in ms
const key = new TextEncoder().encode(TEST_SECRET);

function secretAuth(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    secret: TEST_SECRET,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
    clockToleranceSec: 30,
    allowNoExp: false,
    ...overrides,
  };
}

/** An HS256 token with arbitrary claims, issued at `T0` and valid for an hour unless overridden. */
async function signed(claims: Record<string, unknown>, secret: Uint8Array = key): Promise<string> {
  const iat = T0 / 1000;
  return await new SignJWT({ iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
}

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

async function refusal(verifier: Verifier, token: string | null | undefined): Promise<AuthError> {
  let caught: unknown;
  await verifier.verify(token).then(
    (claims: Claims) => assert.fail(`expected a refusal, got claims for ${claims.sub}`),
    (e) => caught = e,
  );
  assert.ok(caught instanceof AuthError, `expected AuthError, got ${caught}`);
  if (typeof token === "string" && token !== "") {
    assert.ok(!caught.message.includes(token), "the message must not contain the token");
  }
  return caught;
}

async function assertRefused(
  verifier: Verifier,
  token: string | null | undefined,
  code: AuthErrorCode,
) {
  const error = await refusal(verifier, token);
  assert.equal(error.code, code, `got ${error.code}: ${error.message}`);
}

Deno.test("a valid HS256 token yields its subject, sensors and expiry", async (t) => {
  const verifier = createVerifier(secretAuth(), { now: () => T0 });
  assert.equal(verifier.mode, "secret");

  await t.step("with a sensors claim", async () => {
    const token = await mintToken(TEST_SECRET, {
      sub: "alice",
      ttlSec: 600,
      sensors: ["V1", "V2"],
      now: () => T0,
    });
    const claims = await verifier.verify(token);
    assert.equal(claims.sub, "alice");
    assert.deepEqual(claims.sensors, new Set(["V1", "V2"]));
    assert.equal(claims.expiresAt, T0 + 600_000);
  });

  await t.step("without sensors or sub: all sensors, empty subject", async () => {
    const claims = await verifier.verify(await signed({}));
    assert.equal(claims.sub, "");
    assert.equal(claims.sensors, null);
  });

  await t.step("without exp: refused by default, saying so in the log message", async () => {
    const error = await refusal(verifier, await signed({ exp: undefined }));
    assert.equal(error.code, "invalid token");
    assert.equal(error.close.code, 1008);
    assert.match(error.message, /no exp/);
  });

  await t.step("without exp, when allowed: no expiry", async () => {
    const lenient = createVerifier(secretAuth({ allowNoExp: true }), { now: () => T0 });
    const claims = await lenient.verify(await signed({ exp: undefined }));
    assert.equal(claims.expiresAt, undefined);
  });
});

Deno.test("refused tokens raise AuthError with the close reason as code", async (t) => {
  const verifier = createVerifier(secretAuth(), { now: () => T0 });
  const other = new TextEncoder().encode("another-secret-another-secret-0123456");
  const [header, payload] = (await signed({ sub: "mallory" })).split(".");
  const cases: Array<[string, () => Promise<string | null | undefined>, AuthErrorCode]> = [
    ["null token", () => Promise.resolve(null), "missing token"],
    ["undefined token", () => Promise.resolve(undefined), "missing token"],
    ["empty token", () => Promise.resolve(""), "missing token"],
    ["malformed token", () => Promise.resolve("not.a.jwt"), "invalid token"],
    ["random text", () => Promise.resolve("hello"), "invalid token"],
    ["wrong signature", () => signed({ sub: "mallory" }, other), "invalid token"],
    ["tampered payload", async () => {
      const [h, , s] = (await signed({ sub: "alice" })).split(".");
      return `${h}.${payload}.${s}`;
    }, "invalid token"],
    ["expired token", () => signed({ exp: T0 / 1000 - 120 }), "token expired"],
    [
      "not valid yet (nbf beyond the skew)",
      () => signed({ nbf: T0 / 1000 + 600 }),
      "invalid token",
    ],
    ["alg none", () => {
      const none = b64url({ alg: "none", typ: "JWT" });
      return Promise.resolve(`${none}.${b64url({ sub: "mallory", exp: T0 / 1000 + 60 })}.`);
    }, "invalid token"],
    ["alg none with the original signature", () => {
      return Promise.resolve(`${b64url({ alg: "none" })}.${payload}.`);
    }, "invalid token"],
    ["HS512 instead of HS256", async () => {
      return await new SignJWT({ exp: T0 / 1000 + 60 }).setProtectedHeader({ alg: "HS512" })
        .sign(new TextEncoder().encode(TEST_SECRET + TEST_SECRET));
    }, "invalid token"],
    ["sensors claim a string", () => signed({ sensors: "V1" }), "invalid token"],
    ["sensors claim with a number", () => signed({ sensors: ["V1", 2] }), "invalid token"],
    ["sensors claim with a bad id", () => signed({ sensors: ["V1", "../x"] }), "invalid token"],
    ["sub a number", () => signed({ sub: 42 }), "invalid token"],
  ];
  assert.ok(header);
  for (const [name, make, code] of cases) {
    await t.step(`${name} -> ${code}`, async () => {
      await assertRefused(verifier, await make(), code);
    });
  }

  await t.step("the refusal keeps the jose error as cause", async () => {
    const error = await refusal(verifier, await signed({}, other));
    assert.ok(error.cause instanceof Error);
  });
});

Deno.test("issuer and audience are enforced when configured", async (t) => {
  const verifier = createVerifier(
    secretAuth({ issuer: "https://id.example", audience: "sensors" }),
    {
      now: () => T0,
    },
  );
  await t.step("matching iss and aud are accepted", async () => {
    const claims = await verifier.verify(
      await signed({ sub: "a", iss: "https://id.example", aud: ["other", "sensors"] }),
    );
    assert.equal(claims.sub, "a");
  });
  for (
    const [name, claims] of [
      ["wrong issuer", { iss: "https://evil.example", aud: "sensors" }],
      ["missing issuer", { aud: "sensors" }],
      ["wrong audience", { iss: "https://id.example", aud: "billing" }],
      ["missing audience", { iss: "https://id.example" }],
    ] as const
  ) {
    await t.step(`${name} -> invalid token`, async () => {
      await assertRefused(verifier, await signed(claims), "invalid token");
    });
  }
  await t.step("without configuration, any iss and aud are accepted", async () => {
    const open = createVerifier(secretAuth(), { now: () => T0 });
    await open.verify(await signed({ iss: "anyone", aud: "anything" }));
  });
});

Deno.test("clock skew within the tolerance is forgiven, beyond it is not", async (t) => {
  let now = T0;
  const verifier = createVerifier(secretAuth({ clockToleranceSec: 30 }), { now: () => now });
  const token = await signed({ exp: T0 / 1000 + 60 });

  await t.step("expired 10 s ago is still valid with 30 s tolerance", async () => {
    now = T0 + 70_000;
    assert.equal((await verifier.verify(token)).expiresAt, T0 + 60_000);
  });
  await t.step("expired 31 s ago is refused as expired", async () => {
    now = T0 + 91_000;
    await assertRefused(verifier, token, "token expired");
  });
  await t.step("nbf 20 s ahead is accepted, 40 s ahead is not", async () => {
    now = T0;
    await verifier.verify(await signed({ nbf: T0 / 1000 + 20 }));
    await assertRefused(verifier, await signed({ nbf: T0 / 1000 + 40 }), "invalid token");
  });
  await t.step("with no tolerance, a second past exp is expired", async () => {
    const strict = createVerifier(secretAuth({ clockToleranceSec: 0 }), { now: () => T0 + 61_000 });
    await assertRefused(strict, token, "token expired");
  });
});

Deno.test("bad auth configuration is refused when the verifier is built", async (t) => {
  await t.step("a secret under 32 bytes is an OptionError that does not show the secret", () => {
    assert.throws(() => createVerifier(secretAuth({ secret: "short-secret" })), (e: unknown) => {
      assert.ok(e instanceof OptionError);
      assert.match(e.message, /auth\.secret is 12 bytes; use at least 32/);
      assert.ok(!e.message.includes("short-secret"));
      return true;
    });
  });
  await t.step("neither secret nor JWKS URL is a TypeError", () => {
    assert.throws(() => createVerifier(secretAuth({ secret: undefined })), TypeError);
  });
  await t.step("both secret and JWKS URL is a TypeError", () => {
    assert.throws(
      () => createVerifier(secretAuth({ jwksUrl: "https://id.example/jwks.json" })),
      TypeError,
    );
  });
  await t.step("a JWKS URL that is not http(s) is an OptionError", () => {
    assert.throws(
      () => createVerifier(secretAuth({ secret: undefined, jwksUrl: "ftp://id.example/jwks" })),
      OptionError,
    );
  });
});

Deno.test("JWKS mode verifies tokens signed by the identity provider's keys", async (t) => {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const rsa = await generateKeyPair("RS256");
  const keys = [
    { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" },
    { ...(await exportJWK(rsa.publicKey)), kid: "k2", alg: "RS256", use: "sig" },
  ];
  await using jwks = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ keys }),
  );
  const verifier = createVerifier(
    secretAuth({ secret: undefined, jwksUrl: `http://127.0.0.1:${jwks.addr.port}/jwks.json` }),
  );
  assert.equal(verifier.mode, "jwks");
  const es256 = (claims: Record<string, unknown>, signWith: typeof privateKey = privateKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("bob")
      .setExpirationTime("10m").sign(signWith);

  await t.step("a valid ES256 token is accepted", async () => {
    const claims = await verifier.verify(await es256({ sensors: ["V3"] }));
    assert.equal(claims.sub, "bob");
    assert.deepEqual(claims.sensors, new Set(["V3"]));
  });
  await t.step("a valid RS256 token is accepted", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k2" })
      .setSubject("carol").setExpirationTime("10m").sign(rsa.privateKey);
    const claims = await verifier.verify(token);
    assert.equal(claims.sub, "carol");
    assert.equal(claims.sensors, null);
  });
  await t.step("an ES256 token signed by another key is refused", async () => {
    const { privateKey: stranger } = await generateKeyPair("ES256");
    await assertRefused(verifier, await es256({}, stranger), "invalid token");
  });
  await t.step("an HS256 token is refused in JWKS mode", async () => {
    await assertRefused(verifier, await signed({ sub: "mallory" }), "invalid token");
  });
  await t.step(
    "an unreachable JWKS endpoint is 'auth unavailable' (1013), not a bad token",
    async () => {
      const offline = createVerifier(
        secretAuth({ secret: undefined, jwksUrl: `http://127.0.0.1:${freePort()}/jwks.json` }),
      );
      const error = await refusal(offline, await es256({}));
      assert.equal(error.code, "auth unavailable");
      assert.equal(error.close.code, 1013);
      assert.match(error.message, /JWKS/);
    },
  );
});
