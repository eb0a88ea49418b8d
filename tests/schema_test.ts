/** The committed JSON Schema matches the protocol module. */
import assert from "node:assert/strict";
import { schemaText } from "../scripts/write_schema.ts";

Deno.test("docs/protocol.schema.json is up to date (run deno task schema after protocol changes)", async () => {
  const committed = await Deno.readTextFile(
    new URL("../docs/protocol.schema.json", import.meta.url),
  );
  assert.equal(committed, schemaText());
});
