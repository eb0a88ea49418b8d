/** The single binary: built with `deno compile`, then run as a user would. */
import assert from "node:assert/strict";
import { COMPILE_PERMISSIONS, denortUnavailableReason } from "../scripts/compile.ts";
import { TEST_SECRET, within } from "./_helpers.ts";
import { cleanEnv } from "./_cli.ts";

const reason = denortUnavailableReason();
const root = new URL("..", import.meta.url).pathname;

Deno.test({
  name: reason
    ? `single binary: build and run it (ignored: ${reason}; set DENORT_BIN to run it offline)`
    : "single binary: --help, token and a short serve work",
  ignore: reason !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sensorstream-bin-" });
    const bin = `${dir}/sensorstream`;
    try {
      const build = await new Deno.Command(Deno.execPath(), {
        args: ["compile", ...COMPILE_PERMISSIONS, "--output", bin, `${root}main.ts`],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
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
