/** `serve --log-format json`, read as a log collector reads it: one JSON object per line. */
import assert from "node:assert/strict";
import { mintTestToken, TEST_SECRET, within, WsProbe } from "./_helpers.ts";
import { MainProcess } from "./_cli.ts";

const LEVELS = ["debug", "info", "warn", "error"];

Deno.test("serve --log-format json writes one JSON object per line on stderr", async () => {
  await using proc = new MainProcess([
    "serve",
    ...["--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--log-format", "json"],
  ], { JWT_SECRET: TEST_SECRET });
  const [, url] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  // A client comes and goes, and a bad token is refused: events with fields of their own.
  {
    await using client = new WsProbe(
      `${url}?token=${await mintTestToken({}, { sub: "json-user" })}`,
    );
    await client.next("connection_status", 5_000);
  }
  const refused = new WsProbe(`${url}?token=not.a.token`);
  assert.equal((await within(3_000, refused.closed, "the refusal")).code, 1008);
  assert.equal(await proc.stop("SIGTERM"), 0);

  assert.ok(
    proc.stderr.endsWith("\n"),
    `stderr ends with a whole line: ${proc.stderr.slice(-200)}`,
  );
  const lines = proc.stderr.slice(0, -1).split("\n");
  const records = lines.map((line) => {
    let record: unknown;
    assert.doesNotThrow(() => record = JSON.parse(line), `not JSON: ${line}`);
    assert.ok(
      typeof record === "object" && record !== null && !Array.isArray(record),
      `not an object: ${line}`,
    );
    const { time, level, event } = record as Record<string, unknown>;
    assert.ok(
      typeof time === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(time),
      `time: ${line}`,
    );
    assert.ok(typeof level === "string" && LEVELS.includes(level), `level: ${line}`);
    assert.ok(typeof event === "string" && event !== "", `event: ${line}`);
    return record as Record<string, unknown>;
  });

  const events = records.map((r) => r.event);
  for (const e of ["listening", "client connected", "client rejected", "client disconnected"]) {
    assert.ok(events.includes(e), `a "${e}" line among: ${events.join(", ")}`);
  }
  assert.equal(events.at(-1), "stopped");
  assert.equal(records.find((r) => r.event === "client connected")?.sub, "json-user");
  assert.equal(records.find((r) => r.event === "client rejected")?.reason, "invalid token");
});
