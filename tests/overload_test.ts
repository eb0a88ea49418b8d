/** Deciding overload, and conflated rounds: pure logic, no sockets. */
import assert from "node:assert/strict";
import { OverloadDetector } from "../server/overload.ts";
import { Rounds } from "../server/rounds.ts";

interface Tick {
  /** Deliveries exact delivery would make in the tick. */
  demand: number;
  /** Messages actually sent in the tick (default: all of the demand). */
  sends?: number;
  /** CPU cost of one send, ms (default 0.01). */
  costMs?: number;
  lagMs?: number;
}

/** Feeds `n` ticks of 100 ms; returns the states after each. */
function feed(d: OverloadDetector, t0: number, n: number, tick: Tick): boolean[] {
  const { demand, sends = demand, costMs = 0.01, lagMs = 0 } = tick;
  return Array.from({ length: n }, (_, i) =>
    d.sample(t0 + (i + 1) * 100, {
      elapsedMs: 100 + lagMs,
      lagMs,
      cpuMs: sends * costMs,
      sends,
      demand,
    }));
}

Deno.test("overload detector", async (t) => {
  await t.step(
    "stays calm at moderate load, enters when exact delivery would take most of the time",
    () => {
      const d = new OverloadDetector();
      // 4,000 deliveries of 10 µs in 100 ms: 40 % of the time.
      assert.ok(feed(d, 0, 50, { demand: 4_000 }).every((s) => !s), "40 % is not overload");
      assert.ok(Math.abs(d.share - 0.4) < 0.01, `share ${d.share}`);
      const states = feed(d, 5_000, 10, { demand: 9_000 });
      assert.equal(states.at(-1), true);
      assert.ok(states.indexOf(true) <= 3, "enters within a few ticks");
    },
  );

  await t.step("while conflating, the share counts what was demanded at the measured cost", () => {
    const d = new OverloadDetector();
    feed(d, 0, 1, { demand: 0, lagMs: 300 });
    assert.equal(d.overloaded, true);
    // Conflation sends only 1,000 of 4,000 demanded, but each costs 20 µs: 80 % to send them all.
    const states = feed(d, 1_000, 50, { demand: 4_000, sends: 1_000, costMs: 0.02 });
    assert.ok(Math.abs(d.costMs - 0.02) < 0.001, `cost ${d.costMs}`);
    assert.ok(states.every((s) => s), "stays overloaded: exact delivery would not keep up");
    // Too few sends to measure: the cost estimate keeps its last value.
    feed(d, 7_000, 5, { demand: 10, sends: 10, costMs: 5 });
    assert.ok(Math.abs(d.costMs - 0.02) < 0.001, `cost ${d.costMs}`);
  });

  await t.step("CPU spent on something else does not make a light load look overloaded", () => {
    const d = new OverloadDetector();
    // A storm of handshakes: 90 % CPU for a few welcome messages, so each "costs" 450 µs...
    assert.ok(feed(d, 0, 10, { demand: 0, sends: 200, costMs: 0.45 }).every((s) => !s));
    // ...then readings at 20 % of a core: the inflated cost must not enter overload.
    const states = feed(d, 1_000, 30, { demand: 2_000 });
    assert.ok(states.every((s) => !s), `entered at tick ${states.indexOf(true)}`);
    assert.ok(d.costMs < 0.015, "the cost estimate recovered from the storm");
  });

  await t.step("enters at once when the event loop lags, whatever the share", () => {
    const d = new OverloadDetector();
    assert.equal(feed(d, 1_000, 1, { demand: 0, lagMs: 300 })[0], true);
  });

  await t.step(
    "a burst of fan-out work between two ticks enters at once; a small one does not",
    () => {
      const d = new OverloadDetector();
      assert.equal(d.burst(50), false);
      assert.equal(d.overloaded, false);
      assert.equal(d.burst(150), true);
      assert.equal(d.overloaded, true);
      assert.equal(d.burst(150), false, "already overloaded: nothing new");
    },
  );

  await t.step("leaves only after 3 s of calm, not on one quiet tick", () => {
    const d = new OverloadDetector();
    feed(d, 0, 10, { demand: 10_000 });
    assert.equal(d.overloaded, true);
    const calm = feed(d, 1_000, 40, { demand: 0 });
    const left = calm.indexOf(false);
    // The smoothed share needs a few ticks to fall under 35 %, then 3 s must pass.
    assert.ok(left >= 30 && left <= 36, `left after ${left} calm ticks`);
    assert.equal(calm.at(-1), false);
  });

  await t.step("a lagging tick during the calm restarts the 3 s", () => {
    const d = new OverloadDetector();
    feed(d, 0, 10, { demand: 10_000 });
    feed(d, 1_000, 25, { demand: 0 });
    feed(d, 3_500, 1, { demand: 0, lagMs: 300 });
    assert.ok(feed(d, 3_900, 25, { demand: 0 }).every((s) => s), "still overloaded 2.5 s later");
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
      const got: [string, string][] = [];
      const rounds = new Rounds((c, e) => e.forEach(([, text]) => got.push([c.id, text])));
      const all = clients(100);
      rounds.offer("V1", "a");
      rounds.run(all, after(2)); // time is up at the first check inside the round
      assert.equal(got.length, 32, "cut after the first batch of clients");
      assert.ok(rounds.pending);
      rounds.offer("V1", "b"); // newer: the clients not served yet get it instead of "a"
      rounds.run(all, never);
      const ids = [...all.keys()];
      assert.deepEqual(got.slice(0, 100).map(([id]) => id), ids, "each client once, in order");
      assert.ok(got.slice(32, 100).every(([, text]) => text === "b"), "served late, served fresh");
      assert.deepEqual(got.slice(100), ids.slice(0, 32).map((id) => [id, "b"]), "then the rest");
      assert.equal(rounds.pending, false);
    },
  );

  await t.step("a client's turn brings only what changed since its last turn", () => {
    const got = new Map<string, string[]>();
    const rounds = new Rounds<{ id: string }>((c, e) =>
      got.set(c.id, [...(got.get(c.id) ?? []), ...e.map(([, text]) => text)])
    );
    const all = clients(2);
    rounds.offer("V1", "a1");
    rounds.offer("V2", "b1");
    rounds.run(all, never);
    rounds.offer("V2", "b2");
    rounds.run(all, never);
    rounds.run(all, never); // nothing new: nothing sent
    assert.deepEqual(got.get("c0"), ["a1", "b1", "b2"]);
    assert.deepEqual(got.get("c1"), ["a1", "b1", "b2"]);
    assert.equal(rounds.offer("V2", "b3"), false, "b2 had reached everyone: nothing conflated");
    assert.equal(rounds.offer("V2", "b4"), true, "b3 had not");
  });

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
