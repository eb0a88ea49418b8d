import assert from "node:assert/strict";
import { HistoryStore, type StoredReading } from "../server/history.ts";
import { createRandom } from "../sim/random.ts";
import { FakeClock } from "./_fake_clock.ts";
import { T0 } from "./_history.ts";

/** The same rules written the slow, obvious way: sorted arrays of plain objects. */
class Model {
  items: { r: StoredReading; seq: number }[] = [];
  next = 0;
  evictedUpTo = -Infinity;
  constructor(readonly windowMs: number, readonly max: number) {}

  ageOut(now: number): void {
    while (this.items.length > 0 && this.items[0]!.r.at < now - this.windowMs) this.evict();
  }
  evict(): void {
    this.evictedUpTo = Math.max(this.evictedUpTo, this.items.shift()!.r.at);
  }
  add(r: StoredReading, now: number): void {
    this.ageOut(now);
    const full = this.items.length === this.max;
    if (r.at < now - this.windowMs || (full && r.at < this.items[0]!.r.at)) {
      this.evictedUpTo = Math.max(this.evictedUpTo, r.at);
      return;
    }
    if (full) this.evict();
    const pos = this.items.findIndex((x) => x.r.at > r.at);
    this.items.splice(pos === -1 ? this.items.length : pos, 0, { r, seq: this.next++ });
  }
  query(since: number, limit: number, upTo: number, now: number) {
    this.ageOut(now);
    const kept = this.items.filter((x) => x.r.at > since && x.seq < upTo).map((x) => x.r);
    const complete = since >= 0 && since >= this.evictedUpTo; // linkUp(0)
    return { readings: kept.slice(Math.max(0, kept.length - limit)), complete };
  }
}

Deno.test("history matches a plain-array model over random adds, late readings and queries", () => {
  const random = createRandom(7);
  const int = (n: number) => Math.floor(random() * n);
  for (const max of [1, 5, 16, 37, 100]) {
    const clock = new FakeClock(T0);
    const store = new HistoryStore({ windowMs: 60_000, maxPerSensor: max, now: () => clock.now() });
    store.linkUp(0);
    const model = new Model(60_000, max);
    const cursors = [0];
    for (let step = 0; step < 5_000; step++) {
      const op = random();
      if (op < 0.6) {
        const late = random() < 0.1;
        const at = clock.now() - (late ? int(90_000) : int(3) === 0 ? 0 : int(1_000));
        const r = { at, moisture: step, temperature: random() * 40, humidity: 50, light: int(1e5) };
        store.add("S", r);
        model.add(r, clock.now());
      } else if (op < 0.75) {
        clock.advance(int(5_000));
      } else if (op < 0.8) {
        cursors.push(store.cursor("S"));
      } else {
        const since = random() < 0.3 ? -Infinity : clock.now() - int(80_000);
        const limit = random() < 0.5 ? Infinity : int(max + 2);
        const upTo = random() < 0.5 ? Infinity : cursors[int(cursors.length)]!;
        const expected = model.query(since, limit, upTo, clock.now());
        assert.deepEqual(store.query("S", { since, limit, upTo }), expected, `step ${step}`);
        assert.equal(store.stats().readings, model.items.length);
      }
    }
  }
});
