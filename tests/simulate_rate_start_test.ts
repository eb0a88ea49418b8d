/** `simulate --rate` and `--start`, run as a user runs them, into a real Mosquitto. */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { runMain } from "./_cli.ts";
import { startMosquitto, waitFor } from "./_helpers.ts";

/** An MQTT.js subscriber on `sensors/+/data` that keeps every message and when it came. */
async function subscribe(url: string) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  const messages: Array<{ topic: string; text: string; at: number }> = [];
  client.on("message", (topic, payload) => {
    messages.push({ topic, text: payload.toString(), at: Date.now() });
  });
  await client.subscribeAsync("sensors/+/data", { qos: 1 });
  return {
    messages,
    async [Symbol.asyncDispose]() {
      await client.endAsync();
    },
  };
}

Deno.test("simulate --rate 50 --count 20 publishes 20 messages paced, not in a burst", async () => {
  await using broker = await startMosquitto();
  await using sub = await subscribe(broker.url);
  const out = await runMain([
    "simulate",
    "--mqtt-url",
    broker.url,
    "--rate",
    "50",
    "--count",
    "20",
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /published 20\b/);
  await waitFor(() => sub.messages.length >= 20, 3_000, "20 messages at the subscriber");
  assert.equal(sub.messages.length, 20);
  // At 50/s the 20th message is due 380 ms after the first; a burst would take a few ms.
  const span = sub.messages.at(-1)!.at - sub.messages[0]!.at;
  assert.ok(span >= 200, `20 messages at 50/s arrived within ${span} ms: a burst`);
});

Deno.test("simulate --count 5 --seed 7 --start replays the same payloads, timestamps included", async () => {
  await using broker = await startMosquitto();
  const run = async () => {
    await using sub = await subscribe(broker.url);
    const out = await runMain([
      "simulate",
      ...["--mqtt-url", broker.url, "--count", "5", "--seed", "7", "--start", "2024-06-01T00:00Z"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    await waitFor(() => sub.messages.length >= 5, 3_000, "5 messages at the subscriber");
    return sub.messages.map(({ topic, text }) => ({ topic, text }));
  };
  const first = await run();
  const second = await run();
  assert.equal(first.length, 5);
  assert.deepEqual(second, first);
  const stamps = first.map((m) => JSON.parse(m.text).timestamp as string);
  assert.equal(stamps[0], "2024-06-01T00:00:00.000Z");
  for (const s of stamps) assert.match(s, /^2024-06-01T00:00:0\d\.\d{3}Z$/);
  assert.deepEqual([...stamps].sort(), stamps, "timestamps move forward");
});
