/** Escaping control and bidi characters for terminals, logs and NDJSON. */
import assert from "node:assert/strict";
import { escapeControl, escapeControlInJson } from "../lib/sanitize.ts";

/** Every character the escapes must remove, spelled out independently of lib/sanitize.ts. */
// deno-lint-ignore no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = "\x1b[2J\x07\x00\x7f\u009b31m\u202eevil\u2066\u200f";

Deno.test("escapeControl", async (t) => {
  await t.step("writes C0, DEL, C1 and bidi controls as visible escapes", () => {
    assert.equal(escapeControl("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
    assert.equal(escapeControl("line\nnext\r\tend"), "line\\nnext\\r\\tend");
    assert.equal(escapeControl("\x00\x7f\u0080\u009b\u009f"), "\\x00\\x7f\\x80\\x9b\\x9f");
    assert.equal(
      escapeControl("\u200e\u200f\u202a\u202e\u2066\u2069\u061c"),
      "\\u200e\\u200f\\u202a\\u202e\\u2066\\u2069\\u061c",
    );
  });

  await t.step("leaves ordinary text alone, non-ASCII letters and emoji included", () => {
    const text = 'Grüße aus Köln, 温度 22 °C 🌱👩‍🌾 — "quoted" \\ back\u00a0space ñ';
    assert.equal(escapeControl(text), text);
  });

  await t.step("leaves nothing raw, and escaping twice changes nothing more", () => {
    const once = escapeControl(HOSTILE);
    assert.doesNotMatch(once, RAW);
    assert.equal(escapeControl(once), once);
  });
});

Deno.test("escapeControlInJson", async (t) => {
  const value = {
    message: HOSTILE,
    [`key${"\u202e"}`]: ["\u0085", "ok", 1, null],
    plain: "Grüße 🌱",
  };

  await t.step("keeps the JSON valid, with the same value, and free of raw controls", () => {
    const json = escapeControlInJson(JSON.stringify(value));
    assert.doesNotMatch(json, RAW);
    assert.deepEqual(JSON.parse(json), value);
  });

  await t.step("puts pretty-printed JSON on one line", () => {
    const json = escapeControlInJson(JSON.stringify(value, null, "\t"));
    assert.doesNotMatch(json, RAW);
    assert.ok(!json.includes("\n"));
    assert.deepEqual(JSON.parse(json), value);
  });

  await t.step("returns JSON with nothing to escape as is", () => {
    const json = JSON.stringify({ plain: "Grüße 🌱" });
    assert.equal(escapeControlInJson(json), json);
  });
});
