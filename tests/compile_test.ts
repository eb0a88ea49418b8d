/** The single binary: built with `deno compile`, then run as a user would. */
import assert from "node:assert/strict";
import { buildBinary, denortUnavailableReason } from "../scripts/compile.ts";
import { TEST_SECRET, within } from "./_helpers.ts";
import { cleanEnv } from "./_cli.ts";

// Build once, before the test is registered, so that a machine that cannot get denort reports the
// test as ignored (with the reason) instead of passing silently or failing for a missing download.
const dir = await Deno.makeTempDir({ prefix: "sensorstream-bin-" });
const bin = `${dir}/sensorstream`;
let reason = Deno.env.get("DENORT_BIN") ? denortUnavailableReason() : undefined;
let buildError: string | undefined;
if (!reason) {
  const result = await buildBinary(bin, { check: false }); // deno task check covers types
  if (!result.ok && result.runtimeMissing) {
    reason = "deno compile could not download denort (Deno's slim runtime) and DENORT_BIN is unset";
  } else if (!result.ok) buildError = result.message;
}
if (reason) await Deno.remove(dir, { recursive: true });

Deno.test({
  name: reason
    ? `single binary: build and run it (ignored: ${reason}; set DENORT_BIN to run it offline)`
    : "single binary: --help, token and a short serve work",
  ignore: reason !== undefined,
  async fn() {
    try {
      if (buildError !== undefined) throw new Error(`deno compile failed:\n${buildError}`);
      const run = async (args: string[], env: Record<string, string> = {}) => {
        const out = await new Deno.Command(bin, { args, env: cleanEnv(env), clearEnv: true })
          .output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
      const help = await run(["--help"]);
      assert.equal(help.code, 0);
      for (const cmd of ["serve", "simulate", "tail", "token"]) {
        assert.match(help.stdout, new RegExp(cmd));
      }
      const token = await run(["token", "--sub", "bin"], { JWT_SECRET: TEST_SECRET });
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const serve = new Deno.Command(bin, {
        args: ["serve", "--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0"],
        env: cleanEnv({ JWT_SECRET: TEST_SECRET }),
        clearEnv: true,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      await within(
        10_000,
        (async () => {
          while (!/serving ws:/.test(seen)) {
            const { value, done } = await reader.read();
            if (done) break;
            seen += value;
          }
        })(),
        "binary serve start",
      );
      assert.match(seen, /serving ws:\/\/127\.0\.0\.1:\d+\/ws\/sensors/);
      serve.kill("SIGTERM");
      assert.equal((await within(8_000, serve.status, "binary exit")).code, 0);
      await reader.cancel();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
