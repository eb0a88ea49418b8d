/** The secret rule: what redactUrl masks. */
import assert from "node:assert/strict";
import { redactUrl } from "../lib/secrets.ts";

Deno.test("redactUrl masks passwords whole, token user names and query values", async (t) => {
  const cases: Array<[string, string]> = [
    ["mqtt://broker:1883", "mqtt://broker:1883"],
    ["mqtt://u:p@ss@host", "mqtt://u:***@host"],
    ["mqtts://u:pa/ss@host:8883", "mqtts://u:***@host:8883"],
    ["mqtt://u:a:b%40c@host", "mqtt://u:***@host"],
    ["mqtt://ACCESS_TOKEN_123@host", "mqtt://***@host"],
    ["wss://host/mqtt?token=abc&x=1", "wss://host/mqtt?token=***&x=***"],
    ["u:hunter2@broker", "u:***@broker"],
    ["mqtts://u:pa/ss@", "mqtts://u:***@"],
    ["not a url at all", "not a url at all"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => assert.equal(redactUrl(input), expected));
  }
});
