/** `sensorstream token`: a verifiable JWT alone on stdout, clear usage errors on stderr. */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import type { CliIo } from "../cli/io.ts";
import { runCli } from "../cli/mod.ts";
import { createVerifier } from "../server/auth.ts";
import { DEFAULT_CONFIG } from "../server/config.ts";
import { TEST_SECRET } from "./_helpers.ts";
import { runMain } from "./_cli.ts";

/** A CliIo that collects output; the environment is empty unless given. */
function fakeIo(env: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
    env: (name: string) => env[name],
    isTerminal: false,
    columns: undefined,
    signal: new AbortController().signal,
  };
  return io;
}

const verifier = () => createVerifier({ ...DEFAULT_CONFIG.auth, secret: TEST_SECRET });

Deno.test("token prints one verifiable JWT and nothing else on stdout", async (t) => {
  await t.step("with subject, lifetime and sensors", async () => {
    const io = fakeIo();
    const code = await runCli(
      ["token", "--sub", "alice", "--ttl", "1h", "--sensors", "V1,V2", "--jwt-secret", TEST_SECRET],
      io,
    );
    assert.equal(code, 0, io.err);
    // A secret typed as a flag is visible in `ps`: stderr says so, stdout stays the token alone.
    assert.match(io.err, /^warning: --jwt-secret puts the secret in the process list/);
    assert.match(io.out, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verifier().verify(io.out.trim());
    assert.equal(claims.sub, "alice");
    assert.deepEqual(claims.sensors, new Set(["V1", "V2"]));
    const { iat, exp } = decodeJwt(io.out.trim());
    assert.equal(exp! - iat!, 3600);
  });

  await t.step("defaults: subject dev, all sensors", async () => {
    const io = fakeIo();
    assert.equal(await runCli(["token", "--jwt-secret", TEST_SECRET], io), 0, io.err);
    const claims = await verifier().verify(io.out.trim());
    assert.equal(claims.sub, "dev");
    assert.equal(claims.sensors, null);
  });

  await t.step(
    "--commands sets the commands claim; without it the token may send none",
    async () => {
      const io = fakeIo();
      const args = ["token", "--jwt-secret", TEST_SECRET, "--commands", "irrigate,irrigate"];
      assert.equal(await runCli([...args, "--sensors", "V1"], io), 0, io.err);
      const claims = await verifier().verify(io.out.trim());
      assert.deepEqual(claims.commands, new Set(["irrigate"]));
      assert.deepEqual(decodeJwt(io.out.trim()).commands, ["irrigate"]);
      const plain = fakeIo();
      assert.equal(await runCli(["token", "--jwt-secret", TEST_SECRET], plain), 0, plain.err);
      assert.equal((await verifier().verify(plain.out.trim())).commands, null);
    },
  );

  await t.step("issuer and audience end up in the token", async () => {
    const io = fakeIo();
    const args = ["token", "--jwt-secret", TEST_SECRET, "--issuer", "me", "--audience", "them"];
    assert.equal(await runCli(args, io), 0, io.err);
    const strict = createVerifier({
      ...DEFAULT_CONFIG.auth,
      secret: TEST_SECRET,
      issuer: "me",
      audience: "them",
    });
    await strict.verify(io.out.trim());
  });
});

Deno.test("token refuses bad input with exit code 2 and says how to fix it", async (t) => {
  await t.step("no secret anywhere: names JWT_SECRET", async () => {
    // Run as a user does, with a clean environment: the tester's own JWT_SECRET must not count.
    const { code, stdout, stderr } = await runMain(["token"]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, /JWT_SECRET/);
    assert.match(stderr, /--jwt-secret/);
  });

  await t.step("JWT_SECRET from the environment is used", async () => {
    const { code, stdout, stderr } = await runMain(["token", "--sub", "env"], {
      env: { JWT_SECRET: TEST_SECRET },
    });
    assert.equal(code, 0, stderr);
    assert.equal((await verifier().verify(stdout.trim())).sub, "env");
  });

  await t.step("a short secret: its length, never the secret", async () => {
    const io = fakeIo();
    assert.equal(await runCli(["token", "--jwt-secret", "too-short-secret"], io), 2);
    assert.equal(io.out, "");
    assert.match(io.err, /JWT_SECRET is 16 bytes; use at least 32/);
    assert.ok(!io.err.includes("too-short-secret"));
  });

  for (
    const [name, args, pattern] of [
      ["bad --ttl", ["--ttl", "soon"], /'soon' is not a duration/],
      ["--ttl under a second", ["--ttl", "500ms"], /--ttl is 500 ms; use at least 1s/],
      ["bad --sensors", ["--sensors", "V1,../etc"], /'\.\.\/etc' is not a sensor id/],
      [
        "an unknown --commands action",
        ["--commands", "irrigate,flood"],
        /'flood' is not a command action; use irrigate/,
      ],
      ["an empty --commands", ["--commands", ","], /names no action; use irrigate/],
    ] as const
  ) {
    await t.step(`${name}: usage on stderr`, async () => {
      const io = fakeIo();
      assert.equal(await runCli(["token", "--jwt-secret", TEST_SECRET, ...args], io), 2);
      assert.equal(io.out, "");
      assert.match(io.err, pattern);
      assert.match(io.err, /--help/);
    });
  }
});

Deno.test("token --help shows examples", async () => {
  const io = fakeIo();
  assert.equal(await runCli(["token", "--help"], io), 0);
  assert.match(io.out, /Examples:/);
  assert.match(io.out, /sensorstream token --sub alice/);
  assert.match(io.out, /--commands <actions>/);
  assert.match(io.out, /env: JWT_SECRET/);
});
