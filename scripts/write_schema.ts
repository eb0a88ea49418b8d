/** `deno task schema`: writes the protocol's JSON Schema to docs/protocol.schema.json. */
import { protocolJsonSchema } from "../protocol/mod.ts";

/** The file's exact text, shared with the test that keeps it up to date. */
export function schemaText(): string {
  return JSON.stringify(protocolJsonSchema(), null, 2) + "\n";
}

if (import.meta.main) {
  const path = new URL("../docs/protocol.schema.json", import.meta.url);
  await Deno.writeTextFile(path, schemaText());
  // deno-lint-ignore no-console -- a build script's one line of output
  console.log(`wrote ${path.pathname}`);
}
