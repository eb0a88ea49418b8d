/** Every duration option is bounded by what a timer can hold (2^31 - 1 ms, about 24.8 days). */
import assert from "node:assert/strict";
import { MAX_TIMER_MS } from "../lib/clock.ts";
import { withDefaults } from "../server/config.ts";
import { validateConfig } from "../server/config_check.ts";
import { OptionError } from "../lib/errors.ts";
import { runMain } from "./_cli.ts";

Deno.test("a duration longer than a timer holds is a usage error naming the maximum", async (t) => {
  const cases: Array<[string, string[], Record<string, string>]> = [
    ["serve --idle-timeout", ["serve", "--idle-timeout", "2147484"], {}],
    ["serve --slow-client-timeout", ["serve", "--slow-client-timeout", "3000000"], {}],
    ["serve --rate-limit from the env", ["serve"], { WEBSOCKET_RATE_LIMIT_SECONDS: "9999999" }],
    ["simulate --interval", ["simulate", "--interval", "25d"], {}],
    ["simulate --duration", ["simulate", "--duration", "30d"], {}],
    ["tail --connect-timeout", ["tail", "--token", "x", "--connect-timeout", "25d"], {}],
    ["demo --sim-interval", ["demo", "--sim-interval", "25d"], {}],
  ];
  for (const [name, args, env] of cases) {
    await t.step(name, async () => {
      const { code, stderr } = await runMain(args, { env });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /2147483 s \(about 24 days\)/);
      assert.match(stderr, /Usage: sensorstream/);
    });
  }
  await t.step("a token lifetime is not a timer: --ttl 90d is fine", async () => {
    const { code, stderr } = await runMain(["token", "--ttl", "90d"], {
      env: { JWT_SECRET: "x".repeat(32) },
    });
    assert.equal(code, 0, stderr);
  });
});

Deno.test("validateConfig refuses timer durations past the maximum, saying which", () => {
  for (const key of ["idleTimeoutMs", "slowClientTimeoutMs", "rateLimitMs"] as const) {
    const config = withDefaults({ limits: { [key]: MAX_TIMER_MS + 1 } });
    assert.throws(() => validateConfig(config), (e: unknown) => {
      assert.ok(e instanceof OptionError);
      assert.match(e.message, /the longest a timer can hold is 2147483647 ms/);
      return true;
    });
    validateConfig(withDefaults({ limits: { [key]: MAX_TIMER_MS } }));
  }
});
