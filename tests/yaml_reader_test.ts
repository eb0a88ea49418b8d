/** The YAML reader the Kubernetes manifest test (tests/deploy_container_test.ts) relies on. */
import assert from "node:assert/strict";
import { parseYamlDocuments } from "./_yaml.ts";

Deno.test("the YAML reader of these tests reads what Kubernetes would", () => {
  const [doc] = parseYamlDocuments(
    'a:\n  b: 1 # c\n  l:\n  - x: "y#z"\n    n: 0440\n  - [1, "two"]\n' +
      "  - plain: mqtt://h:1883\n  e:\n---\n",
  );
  assert.deepEqual(doc, {
    a: { b: 1, l: [{ x: "y#z", n: 0o440 }, [1, "two"], { plain: "mqtt://h:1883" }], e: null },
  });
  assert.throws(() => parseYamlDocuments("a: |\n  text\n"), SyntaxError);
  assert.throws(() => parseYamlDocuments("a:\n  b: 1\n   c: 2\n"), SyntaxError);
});
