/** `/metrics` of several workers: labelled by worker, process-wide once, counters never going down. */
import assert from "node:assert/strict";
import { MetricsMerge, parseExposition, withWorker } from "../server/metrics_merge.ts";
import { Metrics } from "../server/metrics.ts";

const worker = (connections: number, clients: number, latency: number[] = []) => {
  const m = new Metrics();
  m.connections.inc(connections);
  m.disconnects.inc("server shutting down", 1);
  for (const s of latency) m.latency.observe(s);
  m.bind({
    clients: () => clients,
    slowClients: () => 0,
    sockets: () => clients,
    lingering: () => 0,
    mqttConnected: () => true,
    bufferedBytes: () => 0,
    overloaded: () => false,
    sensors: () => ({ live: 5, stale: 0 }),
    history: () => ({ readings: 0, bytes: 0 }),
  });
  return m.render();
};

/** The value of one series in an exposition. */
const valueOf = (text: string, series: string) =>
  parseExposition(text).flatMap((f) => f.samples).find(([s]) => s === series)?.[1];

Deno.test("parseExposition reads families, and values after label values with spaces", () => {
  const families = parseExposition(worker(3, 2));
  const disconnects = families.find((f) => f.name === "sensorstream_disconnects_total")!;
  assert.equal(disconnects.type, "counter");
  assert.ok(
    disconnects.samples.some(([s, v]) => s.includes('reason="server shutting down"') && v === 1),
  );
  assert.equal(families.find((f) => f.name === "sensorstream_clients")!.samples[0]![1], 2);
});

Deno.test("withWorker puts the worker label first", () => {
  assert.equal(withWorker("x_total", 2), 'x_total{worker="2"}');
  assert.equal(withWorker('x_bucket{le="0.5"}', 0), 'x_bucket{worker="0",le="0.5"}');
});

Deno.test("the merged exposition labels each worker's series and shows the process once", () => {
  const merge = new MetricsMerge();
  merge.report(0, worker(3, 2, [0.002]));
  merge.report(1, worker(4, 1));
  const text = merge.render(new Metrics().render());
  assert.equal(valueOf(text, 'sensorstream_connections_total{worker="0"}'), 3);
  assert.equal(valueOf(text, 'sensorstream_connections_total{worker="1"}'), 4);
  assert.equal(valueOf(text, 'sensorstream_clients{worker="1"}'), 1);
  assert.equal(valueOf(text, 'sensorstream_delivery_latency_seconds_count{worker="0"}'), 1);
  assert.equal(
    valueOf(text, 'sensorstream_delivery_latency_seconds_bucket{worker="0",le="0.0025"}'),
    1,
  );
  assert.match(text, /^process_cpu_seconds_total [\d.]+$/m, "process-wide: unlabelled");
  assert.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1);
  assert.match(text, /^process_heap_bytes\{worker="1"\} \d+$/m, "each worker has its own heap");
  for (const name of new Metrics().registry.names()) {
    assert.equal(text.split("\n").filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1, name);
  }
});

Deno.test("a restarted worker's counters carry on from its predecessor's; its gauges do not", async (t) => {
  const merge = new MetricsMerge();
  const own = new Metrics().render();
  merge.report(0, worker(10, 1));
  merge.report(1, worker(7, 3, [0.01, 0.02]));
  const before = merge.render(own);

  await t.step("while it is gone, its counters stay and its gauges go", () => {
    merge.retire(1);
    const gone = merge.render(own);
    assert.equal(valueOf(gone, 'sensorstream_connections_total{worker="1"}'), 7);
    assert.equal(valueOf(gone, 'sensorstream_delivery_latency_seconds_count{worker="1"}'), 2);
    assert.equal(valueOf(gone, 'sensorstream_clients{worker="1"}'), undefined);
    assert.equal(valueOf(gone, 'sensorstream_clients{worker="0"}'), 1);
  });

  await t.step("its successor counts on top", () => {
    merge.report(1, worker(2, 1, [0.01]));
    const after = merge.render(own);
    assert.equal(valueOf(after, 'sensorstream_connections_total{worker="1"}'), 9);
    assert.equal(valueOf(after, 'sensorstream_delivery_latency_seconds_count{worker="1"}'), 3);
    assert.equal(valueOf(after, 'sensorstream_clients{worker="1"}'), 1);
    for (const family of parseExposition(before)) {
      if (family.type !== "counter" && family.type !== "histogram") continue;
      for (const [series, value] of family.samples) {
        assert.ok((valueOf(after, series) ?? -1) >= value, `${series} went down`);
      }
    }
  });
});
