/** The logger's two formats: one line per event, with no raw control characters. */
import assert from "node:assert/strict";
import { createLogger, type LogFormat } from "../lib/log.ts";

// deno-lint-ignore no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** Clears the screen, rings the bell, opens a C1 CSI and flips the text direction. */
const HOSTILE = "\x1b[2J\x07\u009b31m\u202eevil";
const AT = new Date("2026-01-02T03:04:05.000Z");

function logged(format: LogFormat, log: (l: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  log(createLogger({ format, level: "debug", now: () => AT, write: (line) => lines.push(line) }));
  assert.equal(lines.length, 1);
  return lines[0]!;
}

Deno.test("logger", async (t) => {
  await t.step("pretty: escapes controls in the event, keys, values and errors", () => {
    const line = logged("pretty", (log) =>
      log.warn(`client_closed${HOSTILE}`, {
        reason: HOSTILE,
        [`k${HOSTILE}`]: 1,
        error: new Error(HOSTILE),
        peer: "203.0.113.9",
      }));
    assert.doesNotMatch(line, RAW);
    assert.ok(line.startsWith("2026-01-02T03:04:05.000Z WARN  client_closed\\x1b[2J\\x07\\x9b31m"));
    assert.ok(line.includes(' reason="\\u001b[2J\\u0007\\u009b31m\\u202eevil"'), line);
    assert.ok(line.includes(" peer=203.0.113.9"), "plain values stay plain");
    // A quoted value is a JSON string: it reads back as what was logged.
    const quoted = / reason=("[^"]*")/.exec(line)?.[1] ?? "";
    assert.equal(JSON.parse(quoted), HOSTILE);
  });

  await t.step("json: escapes C1, DEL and bidi too, and parses to the original", () => {
    const line = logged(
      "json",
      (log) => log.error("bridge_error", { topic: HOSTILE + "\x7f", error: new Error(HOSTILE) }),
    );
    assert.doesNotMatch(line, RAW);
    const record = JSON.parse(line);
    assert.equal(record.topic, HOSTILE + "\x7f");
    assert.equal(record.error, `Error: ${HOSTILE}`);
    assert.equal(record.event, "bridge_error");
  });

  await t.step("a field JSON cannot hold does not make logging throw", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const format of ["json", "pretty"] as const) {
      const line = logged(format, (log) => log.info("odd", { circular, big: 10n }));
      assert.match(line, /odd/);
    }
  });

  await t.step("a sink that throws does not make logging throw", () => {
    const log = createLogger({
      write: () => {
        throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
      },
    });
    log.error("still fine", { reason: HOSTILE });
  });
});
