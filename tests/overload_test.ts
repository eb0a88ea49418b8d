/** Deciding overload, and conflated rounds: pure logic, no sockets. */
import assert from "node:assert/strict";
import { OverloadDetector } from "../server/overload.ts";
import { Rounds } from "../server/rounds.ts";

/** Feeds `n` ticks of 100 ms with the given busy time and lag; returns the states after each. */
function feed(d: OverloadDetector, t0: number, n: number, busyMs: number, lagMs = 0): boolean[] {
  return Array.from(
    { length: n },
    (_, i) => d.sample(t0 + (i + 1) * 100, { busyMs, elapsedMs: 100 + lagMs, lagMs }),
  );
}

Deno.test("overload detector", async (t) => {
  await t.step("stays calm at moderate load, enters when fan-out takes most of the time", () => {
    const d = new OverloadDetector();
    assert.ok(feed(d, 0, 50, 40).every((s) => !s), "40 % busy is not overload");
    const states = feed(d, 5_000, 10, 90);
    assert.equal(states.at(-1), true);
    assert.ok(states.indexOf(true) <= 3, "enters within a few ticks");
  });

  await t.step("enters at once when the event loop lags, whatever the busy share", () => {
    const d = new OverloadDetector();
    assert.equal(d.sample(1_000, { busyMs: 0, elapsedMs: 400, lagMs: 300 }), true);
  });

  await t.step("leaves only after 3 s of calm, not on one quiet tick", () => {
    const d = new OverloadDetector();
    feed(d, 0, 10, 100);
    assert.equal(d.overloaded, true);
    const calm = feed(d, 1_000, 40, 0);
    const left = calm.indexOf(false);
    // The smoothed share needs a few ticks to fall under 25 %, then 3 s must pass.
    assert.ok(left >= 30 && left <= 36, `left after ${left} calm ticks`);
    assert.equal(calm.at(-1), false);
  });

  await t.step("a busy tick during the calm restarts the 3 s", () => {
    const d = new OverloadDetector();
    feed(d, 0, 10, 100);
    feed(d, 1_000, 25, 0);
    d.sample(3_600, { busyMs: 0, elapsedMs: 400, lagMs: 300 }); // one lagging tick
    assert.ok(feed(d, 3_600, 25, 0).every((s) => s), "still overloaded 2.5 s later");
  });
});

type Entries = readonly (readonly [string, string])[];
const never = () => false;
/** A `timeUp` that says yes from its `n`-th question on. */
const after = (n: number) => {
  let asked = 0;
  return () => ++asked >= n;
};

Deno.test("rounds", async (t) => {
  const clients = (n: number) =>
    new Map<string, { id: string }>(
      Array.from({ length: n }, (_, i) => [`c${i}`, { id: `c${i}` }]),
    );

  await t.step("a round gives every client the latest reading of every sensor, once", () => {
    const got = new Map<string, Entries[]>();
    const rounds = new Rounds((c, e) => got.set(c.id, [...(got.get(c.id) ?? []), e]));
    assert.equal(rounds.offer("V1", "a"), false);
    assert.equal(rounds.offer("V2", "b"), false);
    assert.equal(rounds.offer("V1", "c"), true, "replaced: conflated");
    rounds.run(clients(3), never);
    assert.equal(rounds.pending, false);
    for (const id of ["c0", "c1", "c2"]) {
      assert.deepEqual(got.get(id), [[["V2", "b"], ["V1", "c"]]]);
    }
  });

  await t.step(
    "a round cut short by its deadline resumes with the clients it did not serve",
    () => {
      const order: string[] = [];
      const rounds = new Rounds((c) => order.push(c.id));
      const all = clients(100);
      rounds.offer("V1", "a");
      rounds.run(all, after(2)); // time is up at the first check inside the round
      assert.equal(order.length, 32, "cut after the first batch of clients");
      assert.ok(rounds.pending);
      rounds.offer("V1", "b"); // joins the next round, not this one
      rounds.run(all, never);
      assert.deepEqual(order.slice(0, 100), [...all.keys()], "each client once, in order");
      assert.equal(order.length, 200, "then the next round, to everyone");
    },
  );

  await t.step("clients that left mid-round are skipped; newcomers wait for the next round", () => {
    const order: string[] = [];
    const rounds = new Rounds((c) => order.push(c.id));
    const all = clients(64);
    rounds.offer("V1", "a");
    rounds.run(all, after(2));
    all.delete("c63");
    all.set("new", { id: "new" });
    rounds.run(all, never);
    assert.ok(!order.includes("c63") && !order.includes("new"));
    assert.equal(order.length, 63);
  });
});
