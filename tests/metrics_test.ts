/** One registry: every metric is one declaration, rendered generically; the README names them all. */
import assert from "node:assert/strict";
import { Metrics } from "../server/metrics.ts";
import { LabeledCounter, Registry } from "../server/registry.ts";
import { startTestServer } from "./_server.ts";

Deno.test("a labelled counter exports every known value, zeros too, and folds strangers into other", () => {
  const registry = new Registry();
  const c = registry.add(new LabeledCounter("x_total", "X.", "reason", ["a", "b"]));
  c.inc("a");
  c.inc("made up by a peer");
  assert.equal(
    registry.render(),
    '# HELP x_total X.\n# TYPE x_total counter\nx_total{reason="a"} 1\n' +
      'x_total{reason="b"} 0\nx_total{reason="other"} 1\n',
  );
  assert.throws(() => registry.add(new LabeledCounter("x_total", "again", "r", [])), TypeError);
});

Deno.test("/metrics renders every declared metric once, with HELP and TYPE", async () => {
  await using server = await startTestServer();
  let text = "";
  const deadline = Date.now() + 5_000;
  while (!/^sensorstream_mqtt_connected 1$/m.test(text) && Date.now() < deadline) {
    text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  }
  const names = new Metrics().registry.names();
  for (const name of names) {
    assert.equal(text.split("\n").filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1, name);
    assert.ok(text.includes(`# HELP ${name} `), name);
  }
  assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m, "memory is measured, not 0");
  assert.match(text, /^sensorstream_mqtt_connected 1$/m);
});

Deno.test("the README lists every metric, and no other", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("## Operations"), readme.indexOf("## Security"));
  const documented = new Set(section.match(/\b(?:sensorstream|process)_[a-z_]+/g));
  assert.deepEqual([...documented].sort(), new Metrics().registry.names().sort());
});
