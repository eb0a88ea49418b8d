/** How tail words the end of a connection, and which ends it retries later. */
import assert from "node:assert/strict";
import { describeConnectError, describeEnd } from "../tail/close_info.ts";

Deno.test("close info", async (t) => {
  await t.step("escapes control characters in close reasons and runtime errors", () => {
    const end = { kind: "closed", opened: true, code: 1011, error: undefined } as const;
    assert.equal(
      describeEnd({ ...end, reason: "\x1b]0;pwned\x07" }).text,
      "1011 \\x1b]0;pwned\\x07",
    );
    assert.equal(describeConnectError("NetworkError: bad \u202ename").text, "bad \\u202ename");
  });

  await t.step("a 1013 without a reason is said as try again later, to retry later", () => {
    const about = describeEnd({ kind: "closed", opened: true, code: 1013, reason: "", error: "" });
    assert.equal(about.text, "1013 try again later");
    assert.equal(about.retryLater, true);
    assert.equal(about.fatal, false);
  });

  await t.step("HTTP 429 and 503 are retried later; other 4xx answers are final", () => {
    const answer = (status: number) => describeConnectError(`Invalid status code: ${status}`);
    assert.deepEqual([answer(429).fatal, answer(429).retryLater], [false, true]);
    assert.deepEqual([answer(503).fatal, answer(503).retryLater], [false, true]);
    assert.deepEqual([answer(401).fatal, answer(401).retryLater], [true, false]);
  });
});
