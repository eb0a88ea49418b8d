/** How tail words the end of a connection, and what the close table tells it to do next. */
import assert from "node:assert/strict";
import { CLOSES, retryAfter } from "../protocol/mod.ts";
import { describeClose, describeConnectError, describeEnd } from "../tail/close_info.ts";

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
    assert.equal(about.retry, "backoff");
  });

  await t.step("HTTP 429 and 503 are retried later; other 4xx answers are final", () => {
    const answer = (status: number) => describeConnectError(`Invalid status code: ${status}`);
    assert.equal(answer(429).retry, "backoff");
    assert.equal(answer(503).retry, "backoff");
    assert.equal(answer(401).retry, "stop");
    assert.equal(answer(502).retry, "reconnect");
  });

  await t.step("every close in the table gets the table's advice and its words", () => {
    for (const entry of Object.values(CLOSES)) {
      const about = describeClose({ code: entry.code, reason: entry.reason });
      assert.equal(about.retry, entry.retry, entry.reason);
      assert.ok(about.text.endsWith(entry.reason), about.text);
      assert.ok(about.hint, `a hint for ${entry.reason}`);
    }
  });

  await t.step("a refused token is said without its code, with how to get a good one", () => {
    const about = describeClose({ code: 1008, reason: "invalid token" });
    assert.equal(about.text, "invalid token");
    assert.match(about.hint ?? "", /secret serve uses.*sensorstream token --sub me/);
    assert.equal(about.retry, "stop");
  });

  await t.step("other refusals are explained with the table's meaning", () => {
    const about = describeClose({ code: 1008, reason: "invalid sensors parameter" });
    assert.equal(about.hint, CLOSES.INVALID_SENSORS.meaning);
  });

  await t.step("a close the table does not know is judged by its code's class", () => {
    const unknown: Array<[number, string]> = [
      [1008, "a reason from a newer server"],
      [1013, "busy"],
      [1001, ""],
      [4000, "custom"],
    ];
    for (const [code, reason] of unknown) {
      const about = describeClose({ code, reason });
      assert.equal(about.retry, retryAfter(code, reason), `${code} ${reason}`);
      assert.equal(about.hint, undefined);
    }
  });

  await t.step("a connection dropped without a close frame is reconnected", () => {
    const about = describeEnd({ kind: "closed", opened: true, code: 1006, reason: "", error: "" });
    assert.deepEqual([about.text, about.retry, about.close], [
      "connection dropped",
      "reconnect",
      undefined,
    ]);
  });
});
