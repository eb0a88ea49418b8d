/** `tail` renews its token on `token_expiring`: minted from the secret, or from a command. */
import assert from "node:assert/strict";
import { decodeJwt, jwtVerify } from "jose";
import { runCli } from "../cli/mod.ts";
import { envelopeOf } from "../protocol/mod.ts";
import { TEST_SECRET, waitFor, within } from "./_helpers.ts";
import { fakeIo } from "./_tail_io.ts";
import { greeting, reading, ScriptedServer, sendAll } from "./_tail_servers.ts";

/**
 * A server that greets with reading 1, answers a `refresh` with `token_refreshed` and reading
 * n+1, and on `close` ends the first connection after its refresh (a reconnect follows).
 */
function refreshingServer(options: { close?: boolean } = {}): ScriptedServer {
  return new ScriptedServer((ws, n) => {
    sendAll(ws, [...greeting(), reading("V1", n * 10)]);
    ws.onmessage = (e) => {
      if (JSON.parse(String(e.data)).type !== "refresh") return;
      const at = new Date();
      sendAll(ws, [
        envelopeOf("token_refreshed", { expires_at: "2025-12-06T15:30:00.000Z" }, at),
        reading("V1", n * 10 + 1),
      ]);
      if (options.close && n === 1) ws.close(1001, "server shutting down");
    };
  });
}

/** Sends `token_expiring` on the server's first connection. */
function expiring(server: ScriptedServer, expiresAt: Date): void {
  const message = envelopeOf("token_expiring", { expires_at: expiresAt.toISOString() }, new Date());
  server.sockets[0]!.send(JSON.stringify(message));
}

Deno.test("tail command token refresh", async (t) => {
  await t.step("with JWT_SECRET, token_expiring gets a freshly minted token", async () => {
    await using server = refreshingServer();
    const f = fakeIo({ env: { JWT_SECRET: TEST_SECRET } });
    const run = runCli(["tail", "--url", server.url, "--count", "2", "--json"], f.io);
    await waitFor(() => f.stdout().includes("sensor_reading"), 3_000, "the first reading");
    const old = decodeJwt(server.bearers[0]!);
    // Tokens count in seconds: a new one is only later once the clock has moved on.
    await waitFor(() => Date.now() >= (old.iat! + 1) * 1_000, 2_000, "the next second");
    expiring(server, new Date(old.exp! * 1_000));
    assert.equal(await within(5_000, run), 0, f.stderr());
    const refresh = server.received[0]?.find((m) => "type" in m && m.type === "refresh");
    assert.ok(refresh && "token" in refresh, JSON.stringify(server.received[0]));
    const { payload } = await jwtVerify(refresh.token, new TextEncoder().encode(TEST_SECRET));
    assert.equal(payload.sub, old.sub);
    assert.deepEqual(payload.sensors, old.sensors);
    assert.ok(payload.exp! > old.exp!, `exp ${payload.exp} after ${old.exp}`);
    assert.match(f.stderr(), /^tail: token refreshed \(expires 2025-12-06T15:30:00\.000Z\)$/m);
    for (const token of [refresh.token, server.bearers[0]!]) {
      assert.ok(!f.stdout().includes(token) && !f.stderr().includes(token), "token printed");
    }
  });

  await t.step(
    "with --token-command, the command's next token; a reconnect gets another",
    async () => {
      const dir = await Deno.makeTempDir();
      try {
        const script = `${dir}/token.sh`;
        await Deno.writeTextFile(
          script,
          `n=$(cat "${dir}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/n"; ` +
            `echo "tok-$n"\n`,
        );
        await using server = refreshingServer({ close: true });
        const f = fakeIo();
        const args = [
          ...["tail", "--url", server.url, "--count", "3", "--json"],
          ...["--token-command", `sh ${script}`],
        ];
        const run = runCli(args, f.io);
        await waitFor(() => f.stdout().includes("sensor_reading"), 3_000, "the first reading");
        expiring(server, new Date(Date.now() + 60_000));
        assert.equal(await within(5_000, run), 0, f.stderr());
        assert.deepEqual(server.received[0], [{ type: "refresh", token: "tok-2" }]);
        assert.deepEqual(server.bearers, ["tok-1", "tok-3"]);
        assert.doesNotMatch(f.stdout() + f.stderr(), /tok-\d/, "a token was printed");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  await t.step(
    "a token command that fails at start exits 1, saying why, not what it printed",
    async () => {
      const f = fakeIo();
      const args = [
        "tail",
        "--token-command",
        "echo tok-99; echo 'helper: no session' >&2; exit 4",
      ];
      assert.equal(await runCli(args, f.io), 1);
      assert.match(
        f.stderr(),
        /^error: --token-command \/ SENSORSTREAM_TOKEN_COMMAND: the token command exited with 4: helper: no session$/m,
      );
      assert.ok(!f.stderr().includes("tok-99"));
    },
  );

  await t.step("a given token and a token command together exit 2", async () => {
    const f = fakeIo({ env: { SENSORSTREAM_TOKEN_COMMAND: "echo abc" } });
    assert.equal(await runCli(["tail", "--token", "x"], f.io), 2);
    assert.match(f.stderr(), /a token is given \(--token\) and so is --token-command/);
  });
});
