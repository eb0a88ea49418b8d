/** Many deadlines on one timer: pure logic on the fake clock. */
import assert from "node:assert/strict";
import { Deadlines } from "../lib/deadlines.ts";
import { MAX_TIMER_MS } from "../lib/clock.ts";
import { FakeClock } from "./_fake_clock.ts";

Deno.test("deadlines", async (t) => {
  await t.step("items come due in time order, each at its time, on one timer", () => {
    const clock = new FakeClock(1_000);
    const fired: [string, number][] = [];
    const d = new Deadlines<string>(clock, (item) => fired.push([item, clock.now()]));
    // Shuffled times, so the heap has to order them.
    const times = [7, 3, 9, 1, 5, 8, 2, 6, 4, 10].map((s) => s * 1_000);
    times.forEach((ms, i) => d.set(`c${i}`, 1_000 + ms));
    assert.equal(clock.pendingTimers, 1, "one timer, whatever the number of items");
    clock.advance(10_000);
    assert.deepEqual(
      fired.map(([, at]) => at),
      [...times].sort((a, b) => a - b).map((ms) => 1_000 + ms),
    );
    assert.equal(d.size, 0);
    assert.equal(clock.pendingTimers, 0, "no timer once nothing waits");
  });

  await t.step("an item deleted or moved does not come due at its old time", () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    const d = new Deadlines<string>(clock, (item) => fired.push(item));
    for (let i = 0; i < 50; i++) d.set(`c${i}`, 100 + i);
    for (let i = 0; i < 50; i += 2) assert.equal(d.delete(`c${i}`), true);
    assert.equal(d.delete("c0"), false, "already gone");
    d.set("c1", 1_000); // moved later
    clock.advance(149);
    assert.deepEqual(fired, Array.from({ length: 24 }, (_, k) => `c${2 * k + 3}`));
    clock.advance(851);
    assert.equal(fired.at(-1), "c1");
    assert.equal(clock.pendingTimers, 0);
  });

  await t.step("a deadline beyond what one timer holds still comes at its time", () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    const d = new Deadlines<string>(clock, () => fired.push(clock.now()));
    const far = MAX_TIMER_MS * 2 + 5;
    d.set("far", far);
    clock.advance(MAX_TIMER_MS * 2);
    assert.deepEqual(fired, []);
    clock.advance(5);
    assert.deepEqual(fired, [far]);
  });

  await t.step("an item set again while coming due waits for its new time", () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    const d = new Deadlines<string>(clock, (item) => {
      fired.push(clock.now());
      if (fired.length === 1) d.set(item, clock.now() + 500); // e.g. a refreshed token
    });
    d.set("a", 100);
    clock.advance(1_000);
    assert.deepEqual(fired, [100, 600]);
  });
});
