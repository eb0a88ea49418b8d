/** The close table is the one truth: the README's table says the same, entry for entry. */
import assert from "node:assert/strict";
import { closeEntryOf, CLOSES, retryAfter } from "../protocol/mod.ts";

const ADVICE = {
  reconnect: "reconnect",
  backoff: "retry with backoff",
  stop: "fix the cause, then reconnect",
} as const;

Deno.test("the README's close table lists every close of protocol/close.ts, as it says", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("Close codes (");
  assert.ok(start >= 0, "README has the close table");
  const rows = readme.slice(start).split("\n\n")[1]!.split("\n").slice(2)
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  const documented = rows.filter(([code]) => code !== "1000").map((
    [code, reason, meaning, advice],
  ) => ({
    code: Number(code),
    reason: reason!.replace(/`/g, ""),
    meaning,
    advice,
  }));
  const expected = Object.values(CLOSES).map((e) => ({
    code: e.code,
    reason: e.reason,
    meaning: e.meaning,
    advice: ADVICE[e.retry],
  }));
  assert.deepEqual(documented, expected);
});

Deno.test("each close reason is unique and fits a close frame", () => {
  const reasons = Object.values(CLOSES).map((e) => e.reason);
  assert.equal(new Set(reasons).size, reasons.length);
  for (const r of reasons) assert.ok(new TextEncoder().encode(r).length <= 123, r);
});

Deno.test("retry advice: the table for known closes, the code's class otherwise", () => {
  assert.equal(closeEntryOf(1008, "token expired"), CLOSES.TOKEN_EXPIRED);
  assert.equal(retryAfter(1013, "auth unavailable"), "backoff");
  assert.equal(retryAfter(1008, "a reason from a newer server"), "stop");
  assert.equal(retryAfter(1013, "a reason from a newer server"), "backoff");
  assert.equal(retryAfter(1006, ""), "reconnect");
  assert.equal(retryAfter(1001, "server shutting down"), "reconnect");
});
