/**
 * Invalid MQTT payloads are a flood a peer can cause: the log gets one line per reason every
 * 10 s and then the count it left out, while the metric counts every one of them.
 */
import assert from "node:assert/strict";
import { createLogger } from "../lib/log.ts";
import { publish } from "./_helpers.ts";
import { waitForMetric, waitForReadyz } from "./_http.ts";
import { FakeClock } from "./_fake_clock.ts";
import { payload, startTestServer } from "./_server.ts";

Deno.test("many invalid payloads of one reason within 10 s log one line, then one with suppressed=N; all are counted", async () => {
  const clock = new FakeClock(Date.now());
  const written: string[] = [];
  const logger = createLogger({ format: "pretty", write: (line) => void written.push(line) });
  await using server = await startTestServer({}, { clock, logger });
  await waitForReadyz(server.httpUrl, 200);
  const dropped = () => written.filter((l) => l.includes(" invalid mqtt payload dropped "));
  const send = (n: number, body: string | Record<string, unknown>) =>
    publish(
      server.mqttUrl,
      Array.from({ length: n }, () => ({ topic: "sensors/V1/data", payload: body })),
    );
  const counted = (reason: string, n: number) =>
    waitForMetric(server.httpUrl, "sensorstream_mqtt_messages_invalid_total", (v) => v === n, {
      labels: { reason },
    });

  await send(25, "{not json");
  await send(5, payload({ moisture: 140 }));
  await counted("bad_json", 25);
  await counted("schema", 5);
  assert.equal(dropped().length, 2, dropped().join("\n"));
  assert.match(dropped()[0]!, /\bWARN\b.* reason=bad_json /);
  assert.match(dropped()[1]!, /\bWARN\b.* reason=schema /);
  for (const line of dropped()) assert.doesNotMatch(line, /suppressed=/);

  // Still within the 10 s: counted, not logged.
  clock.advance(9_999);
  await send(3, "{not json");
  await counted("bad_json", 28);
  assert.equal(dropped().length, 2, dropped().join("\n"));

  // The interval has passed: the next line of each reason says how many were left out.
  clock.advance(1);
  await send(1, "{not json");
  await send(1, payload({ moisture: 140 }));
  await counted("bad_json", 29);
  await counted("schema", 6);
  assert.equal(dropped().length, 4, dropped().join("\n"));
  assert.match(dropped()[2]!, /reason=bad_json .*suppressed=27\b/);
  assert.match(dropped()[3]!, /reason=schema .*suppressed=4\b/);
});
