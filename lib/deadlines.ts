/**
 * Many one-shot deadlines on one timer: a min-heap of (time, item) with a single clock timer
 * armed for the earliest. Each entry costs two array slots and a map entry, where a timer per
 * item costs a timer object, a closure and its context: with 10,000 clients each holding a
 * token expiry, that difference is most of what a connection costs beyond its socket.
 * @module
 */
import { at, type Clock } from "./clock.ts";

/** Deadlines of items of type `T`; each item holds at most one. */
export class Deadlines<T> {
  readonly #clock: Clock;
  readonly #onDue: (item: T) => void;
  readonly #items: T[] = [];
  readonly #times: number[] = [];
  readonly #index = new Map<T, number>();
  #cancelTimer: (() => void) | undefined;
  #armedFor = Infinity;

  /** Calls `onDue(item)` when an item's time comes on `clock` (the item is removed first). */
  constructor(clock: Clock, onDue: (item: T) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** Items waiting. */
  get size(): number {
    return this.#items.length;
  }

  /** Sets `item`'s deadline to clock time `time`, replacing any it had. */
  set(item: T, time: number): void {
    this.delete(item);
    const i = this.#items.length;
    this.#items.push(item);
    this.#times.push(time);
    this.#index.set(item, i);
    this.#up(i);
    this.#arm();
  }

  /** Removes `item`'s deadline; false when it had none. */
  delete(item: T): boolean {
    const i = this.#index.get(item);
    if (i === undefined) return false;
    this.#index.delete(item);
    const lastItem = this.#items.pop()!;
    const lastTime = this.#times.pop()!;
    if (i < this.#items.length) {
      this.#place(i, lastItem, lastTime);
      this.#down(this.#up(i));
    }
    this.#arm();
    return true;
  }

  #fire(): void {
    this.#cancelTimer = undefined;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    while (this.#items.length > 0 && this.#times[0]! <= now) {
      const item = this.#items[0]!;
      this.delete(item);
      this.#onDue(item);
    }
    this.#arm();
  }

  /** Keeps the one timer armed for the earliest deadline, or none when there is none. */
  #arm(): void {
    const next = this.#times[0] ?? Infinity;
    if (next === this.#armedFor) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#armedFor = next;
    if (next !== Infinity) this.#cancelTimer = at(this.#clock, next, () => this.#fire());
  }

  #place(i: number, item: T, time: number): void {
    this.#items[i] = item;
    this.#times[i] = time;
    this.#index.set(item, i);
  }

  #swap(a: number, b: number): void {
    const item = this.#items[a]!, time = this.#times[a]!;
    this.#place(a, this.#items[b]!, this.#times[b]!);
    this.#place(b, item, time);
  }

  #up(i: number): number {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#times[parent]! <= this.#times[i]!) break;
      this.#swap(i, parent);
      i = parent;
    }
    return i;
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let min = i;
      if (l < n && this.#times[l]! < this.#times[min]!) min = l;
      if (r < n && this.#times[r]! < this.#times[min]!) min = r;
      if (min === i) return;
      this.#swap(i, min);
      i = min;
    }
  }
}
