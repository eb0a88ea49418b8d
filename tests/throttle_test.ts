import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { Throttle } from "../server/throttle.ts";
import { FakeClock } from "./_fake_clock.ts";

type Sent = [key: string, value: number, at: number];

function setup(windowMs: number) {
  const clock = new FakeClock(1_000);
  const sent: Sent[] = [];
  const throttle = new Throttle<number>(windowMs, (k, v) => sent.push([k, v, clock.now()]), clock);
  return { clock, sent, throttle };
}

// Deno 2.9 no longer enables the op sanitizer by default; these tests promise no leaked timers.
const sanitize = { sanitizeOps: true, sanitizeResources: true };

Deno.test({ name: "throttle", ...sanitize }, async (t) => {
  await t.step("sends the first reading of a quiet sensor at once", () => {
    const { sent, throttle } = setup(1_000);
    assert.equal(throttle.push("V1", 1), "sent");
    assert.deepEqual(sent, [["V1", 1, 1_000]]);
    throttle.close();
  });

  await t.step("sends only the latest reading of a burst, at the end of the window", () => {
    const { clock, sent, throttle } = setup(1_000);
    throttle.push("V1", 1);
    clock.advance(100);
    assert.equal(throttle.push("V1", 2), "deferred");
    assert.equal(throttle.push("V1", 3), "deferred");
    assert.equal(throttle.push("V1", 4), "deferred");
    assert.equal(throttle.pendingCount, 1);
    clock.advance(899);
    assert.deepEqual(sent, [["V1", 1, 1_000]]);
    clock.advance(1);
    assert.deepEqual(sent, [["V1", 1, 1_000], ["V1", 4, 2_000]]);
    assert.equal(throttle.dropped, 2);
    assert.equal(throttle.pendingCount, 0);
    throttle.close();
  });

  await t.step("forgets a sensor once a window ends with nothing pending", () => {
    const { clock, sent, throttle } = setup(1_000);
    throttle.push("V1", 1);
    throttle.push("V1", 2);
    clock.advance(1_000); // sends 2, opens the next window
    assert.equal(throttle.openWindows, 1);
    clock.advance(1_000); // nothing pending: idle again
    assert.equal(throttle.openWindows, 0);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(throttle.push("V1", 3), "sent");
    assert.deepEqual(sent.map(([, v, at]) => [v, at]), [[1, 1_000], [2, 2_000], [3, 3_000]]);
    throttle.close();
  });

  await t.step("throttles each sensor independently", () => {
    const { clock, sent, throttle } = setup(1_000);
    assert.equal(throttle.push("V1", 1), "sent");
    clock.advance(400);
    assert.equal(throttle.push("V2", 10), "sent");
    assert.equal(throttle.push("V1", 2), "deferred");
    assert.equal(throttle.push("V2", 11), "deferred");
    clock.advance(600);
    assert.deepEqual(sent, [["V1", 1, 1_000], ["V2", 10, 1_400], ["V1", 2, 2_000]]);
    clock.advance(400);
    assert.deepEqual(sent.at(-1), ["V2", 11, 2_400]);
    assert.equal(throttle.dropped, 0);
    throttle.close();
  });

  await t.step("with a 0 ms window sends every reading at once and keeps no state", () => {
    const { clock, sent, throttle } = setup(0);
    for (let i = 0; i < 5; i++) assert.equal(throttle.push("V1", i), "sent");
    assert.deepEqual(sent.map(([, v]) => v), [0, 1, 2, 3, 4]);
    assert.equal(throttle.openWindows, 0);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(throttle.dropped, 0);
    throttle.close();
  });

  await t.step("never exceeds one reading per window and converges to the last value", () => {
    const { clock, sent, throttle } = setup(1_000);
    // 10 readings a second for 5.05 s, then silence.
    let value = 0;
    for (let ms = 0; ms <= 5_050; ms += 100) {
      throttle.push("V1", value++);
      clock.advance(100);
    }
    clock.advance(5_000);
    const times = sent.map(([, , at]) => at);
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i]! - times[i - 1]! >= 1_000, `sends ${i - 1} and ${i} too close: ${times}`);
    }
    assert.equal(sent.at(-1)?.[1], value - 1);
    assert.equal(throttle.dropped + sent.length, value);
    assert.equal(throttle.openWindows, 0);
    throttle.close();
  });

  await t.step("close cancels every timer and discards pending readings", () => {
    const { clock, sent, throttle } = setup(1_000);
    for (const key of ["V1", "V2", "V3"]) {
      throttle.push(key, 1);
      throttle.push(key, 2);
    }
    assert.equal(clock.pendingTimers, 3);
    throttle.close();
    assert.equal(clock.pendingTimers, 0);
    assert.equal(throttle.pendingCount, 0);
    assert.equal(throttle.push("V1", 3), "deferred");
    clock.advance(10_000);
    assert.equal(sent.length, 3);
  });

  await t.step("close on the system clock leaves no timers behind for the sanitizer", () => {
    const sent: number[] = [];
    const throttle = new Throttle<number>(60_000, (_k, v) => sent.push(v), systemClock);
    throttle.push("V1", 1);
    throttle.push("V1", 2);
    throttle.push("V2", 1);
    throttle.close(); // a leaked 60 s timer would fail this test's op sanitizer
    assert.deepEqual(sent, [1, 1]);
  });

  await t.step("rejects a negative or non-finite window", () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new Throttle(bad, () => {}), RangeError);
    }
  });
});
