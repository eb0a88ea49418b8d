/** `--token-command`: a command that prints a fresh token, run through the shell. */
import assert from "node:assert/strict";
import { commandTokenSource } from "../tail/token_command.ts";
import { freePort, within } from "./_helpers.ts";
import { runMain } from "./_cli.ts";

/** Runs the source and returns the token or the error's message. */
async function outcome(command: string, timeoutMs?: number): Promise<string> {
  const source = commandTokenSource(command, timeoutMs === undefined ? {} : { timeoutMs });
  return await within(
    5_000,
    Promise.resolve(source()).then((t) => `token: ${t}`, (e) => e.message),
  );
}

Deno.test("token command", async (t) => {
  await t.step("returns what the command prints on stdout, trimmed", async () => {
    assert.equal(await outcome("printf '  abc.def.ghi\\n\\n'"), "token: abc.def.ghi");
  });

  await t.step("runs the command each time it is asked", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const source = commandTokenSource(
        `n=$(cat "${dir}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/n"; echo t$n`,
      );
      assert.deepEqual([await source(), await source()], ["t1", "t2"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step(
    "a failure says the exit code and the last line of stderr, never stdout",
    async () => {
      const said = await outcome("echo secret-token-123; echo 'vault: sealed' >&2; exit 3");
      assert.equal(said, "the token command exited with 3: vault: sealed");
    },
  );

  await t.step("a token the command prints on stderr too is taken out of the message", async () => {
    const said = await outcome("echo tok-42; echo 'got tok-42, but failing' >&2; exit 1");
    assert.equal(said, "the token command exited with 1: got [token], but failing");
  });

  await t.step("stderr control characters are escaped", async () => {
    const said = await outcome("printf 'bad \\033[2J news\\n' >&2; exit 1");
    assert.equal(said, "the token command exited with 1: bad \\x1b[2J news");
  });

  await t.step(
    "no token, or something that is not one, is refused without showing it",
    async () => {
      assert.equal(await outcome("true"), "the token command printed no token on stdout");
      const said = await outcome("echo 'Bearer my secret'");
      assert.match(said, /^the token command printed something that is not a token on stdout/);
      assert.ok(!said.includes("secret"), said);
    },
  );

  await t.step("a command that takes too long is stopped", async () => {
    assert.equal(
      await outcome("exec sleep 30", 200),
      "the token command gave no token within 0.2s",
    );
  });

  await t.step("a command that prints too much is stopped", async () => {
    assert.equal(
      await outcome("exec yes abcdefgh", 5_000),
      "the token command printed more than 8192 bytes",
    );
  });

  await t.step("aborting stops the command", async () => {
    const controller = new AbortController();
    const running = Promise.resolve(commandTokenSource("exec sleep 30")(controller.signal));
    controller.abort();
    await assert.rejects(within(2_000, running));
  });
});

Deno.test("tail --token-command without permission to run programs says which one it needs", async () => {
  const url = `ws://127.0.0.1:${freePort()}/ws/sensors`;
  const args = ["tail", "--url", url, "--token-command", "echo abc", "--connect-timeout", "200ms"];
  const denied = await runMain(args);
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(denied.stderr, /--token-command .*: .*--allow-run=sh/);
  // With that permission, the token comes and what fails is the connection.
  const allowed = await runMain(args, { permissions: ["--allow-run=sh"] });
  assert.equal(allowed.code, 1, allowed.stderr);
  assert.match(allowed.stderr, /Cannot connect to .*connection refused/);
});
