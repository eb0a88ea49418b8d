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

Deno.test("the gauges show what the parts report", async () => {
  const metrics = new Metrics();
  let overloaded = false;
  metrics.bind({
    clients: () => 2,
    slowClients: () => 0,
    sockets: () => 2,
    lingering: () => 0,
    mqttConnected: () => true,
    bufferedBytes: () => 1_234,
    overloaded: () => overloaded,
    sensors: () => ({ live: 4, stale: 1 }),
    history: () => ({ readings: 10, bytes: 400 }),
  });
  assert.match(metrics.render(), /^sensorstream_overloaded 0$/m);
  overloaded = true;
  assert.match(metrics.render(), /^sensorstream_overloaded 1$/m);
  assert.match(metrics.render(), /^sensorstream_ws_buffered_bytes 1234$/m);
  assert.match(metrics.render(), /^sensorstream_sensors\{status="stale"\} 1$/m);
  assert.match(metrics.render(), /^sensorstream_history_bytes 400$/m);
  // And a running server wires them to its hub: idle, nothing buffered, not overloaded.
  await using server = await startTestServer();
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  assert.match(text, /^sensorstream_overloaded 0$/m);
  assert.match(text, /^sensorstream_ws_buffered_bytes 0$/m);
});
