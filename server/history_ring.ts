/**
 * One sensor's recent readings in a growable ring of doubles, sorted by reading time, each
 * numbered in the order it was stored. `HistoryStore` keeps one per sensor and decides when
 * readings age out; the ring only stores, orders, numbers and evicts. Pure: no I/O, no clock.
 * @module
 */

/** One reading as stored: its own time and its four values. */
export interface StoredReading {
  /** Reading time, ms since the epoch. */
  at: number;
  /** Soil moisture, percent. */
  moisture: number;
  /** Air temperature, °C. */
  temperature: number;
  /** Relative humidity, percent. */
  humidity: number;
  /** Light, lux. */
  light: number;
}

/** Options of a new {@link SensorRing}. */
export interface SensorRingOptions {
  /** Most readings kept; storing beyond drops the oldest. An integer ≥ 1, not checked here. */
  max: number;
  /** Sequence number of the first reading stored. */
  next: number;
  /** Newest reading time the sensor may already have lost. */
  evictedUpTo: number;
}

/** Which readings {@link SensorRing.select} visits; all three are required. */
export interface RingRange {
  /** Only readings whose `at` is strictly after this, ms. */
  since: number;
  /** At most this many, the most recent among those selected. */
  limit: number;
  /** Only readings whose sequence number is below this. */
  upTo: number;
}

/**
 * Receives each reading {@link SensorRing.select} selects: the ring's array and the offset of
 * the reading's five doubles, in the order at, moisture, temperature, humidity, light.
 */
export type RingVisitor = (data: Float64Array, offset: number) => void;

/** The reading a {@link RingVisitor} was given, as an object. */
export function readingAt(data: Float64Array, offset: number): StoredReading {
  return {
    at: data[offset]!,
    moisture: data[offset + 1]!,
    temperature: data[offset + 2]!,
    humidity: data[offset + 3]!,
    light: data[offset + 4]!,
  };
}

// One reading is FIELDS doubles in a row: at, moisture, temperature, humidity, light.
const FIELDS = 5;
const BYTES_PER_READING = FIELDS * Float64Array.BYTES_PER_ELEMENT;
const BYTES_PER_SEQ = Float64Array.BYTES_PER_ELEMENT;
const INITIAL_CAPACITY = 16;

/**
 * One sensor's readings: a ring sorted by `at` in one Float64Array (40 bytes a reading, no
 * object per reading), growing by doubling up to `max`.
 */
export class SensorRing {
  readonly #max: number;
  #data: Float64Array;
  #cap: number;
  /** Slot of the oldest reading. */
  #head = 0;
  #size = 0;
  /** Sequence number of the next reading stored. */
  #next: number;
  /**
   * Each slot's sequence number, allocated only once a reading arrived out of order. Until
   * then the readings' numbers are next − size … next − 1 in ring order, which saves 8 bytes
   * a reading for the sensors with sane clocks.
   */
  #seqs: Float64Array | undefined = undefined;
  #evictedUpTo: number;

  /** An empty ring with room for 16 readings (or `max`, if fewer). */
  constructor(options: SensorRingOptions) {
    this.#max = options.max;
    this.#cap = Math.min(INITIAL_CAPACITY, options.max);
    this.#data = new Float64Array(this.#cap * FIELDS);
    this.#next = options.next;
    this.#evictedUpTo = options.evictedUpTo;
  }

  /** Readings held. */
  get size(): number {
    return this.#size;
  }

  /** Sequence number the next reading stored will get: the sensor's cursor. */
  get next(): number {
    return this.#next;
  }

  /** Newest `at` this sensor may have lost (aged out, capped, dropped, or the floor it began with). */
  get evictedUpTo(): number {
    return this.#evictedUpTo;
  }

  /**
   * Bytes of the typed arrays: 40 a slot of capacity (not just the readings held), plus 8 a slot
   * from a reading arriving out of order until the ring is next empty.
   */
  get bytes(): number {
    return this.#cap * (BYTES_PER_READING + (this.#seqs ? BYTES_PER_SEQ : 0));
  }

  /** `at` of the newest reading held, or -Infinity when empty. */
  newest(): number {
    return this.#size > 0 ? this.#atOf(this.#size - 1) : -Infinity;
  }

  /** A reading stamped `at` was lost without being stored (too old on arrival). */
  lost(at: number): void {
    this.#evictedUpTo = Math.max(this.#evictedUpTo, at);
  }

  /** Evicts the readings with `at` before `cutoff`. */
  ageOut(cutoff: number): void {
    while (this.#size > 0 && this.#atOf(0) < cutoff) this.#evictOldest();
  }

  /**
   * Stores a reading in timestamp order, after those of equal time; one older than the newest
   * goes into its place (O(n), rare). Full at `max`, the oldest is evicted, or the reading itself
   * if it is older still. Returns whether it was stored (and took a sequence number).
   */
  insert(reading: StoredReading): boolean {
    const { at } = reading;
    if (this.#size === this.#cap) {
      if (this.#cap < this.#max) this.#grow();
      else if (at < this.#atOf(0)) {
        this.lost(at); // itself the oldest: dropped
        return false;
      } else this.#evictOldest();
    }
    let pos = this.#size;
    if (this.#size > 0 && at < this.#atOf(this.#size - 1)) {
      pos = this.#upperBound(at);
      if (this.#seqs === undefined) this.#numberSlots();
      for (let i = this.#size; i > pos; i--) this.#copySlot(this.#slotOf(i - 1), this.#slotOf(i));
    }
    const slot = this.#slotOf(pos);
    const o = slot * FIELDS;
    this.#data[o] = at;
    this.#data[o + 1] = reading.moisture;
    this.#data[o + 2] = reading.temperature;
    this.#data[o + 3] = reading.humidity;
    this.#data[o + 4] = reading.light;
    this.#size++;
    if (this.#seqs) this.#seqs[slot] = this.#next;
    this.#next++;
    return true;
  }

  /** Calls `visit` for each reading in `range`, oldest first. */
  select(range: RingRange, visit: RingVisitor): void {
    const { since, limit, upTo } = range;
    let from = this.#upperBound(since);
    let to = this.#size;
    const seqs = this.#seqs;
    if (seqs === undefined) {
      // Sequence numbers rise with the index: the cursor cuts a suffix.
      to = Math.min(Math.max(upTo - (this.#next - this.#size), from), this.#size);
      from = Math.max(from, to - limit);
    } else {
      // Late readings sit anywhere: walk back from the newest, counting those before the cursor.
      let i = to;
      for (let taken = 0; i > from && taken < limit;) if (seqs[this.#slotOf(--i)]! < upTo) taken++;
      from = i;
    }
    for (let i = from; i < to; i++) {
      const slot = this.#slotOf(i);
      if (seqs === undefined || seqs[slot]! < upTo) visit(this.#data, slot * FIELDS);
    }
  }

  #slotOf(i: number): number {
    return (this.#head + i) % this.#cap;
  }

  #atOf(i: number): number {
    return this.#data[this.#slotOf(i) * FIELDS]!;
  }

  /** First index whose `at` is greater than `t`, by binary search (the ring is sorted). */
  #upperBound(t: number): number {
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#atOf(mid) > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  #evictOldest(): void {
    this.lost(this.#atOf(0));
    this.#head = (this.#head + 1) % this.#cap;
    this.#size--;
    // Empty, the numbers are implicit again: the late reading's cost ends with it.
    if (this.#size === 0) this.#seqs = undefined;
  }

  /** Doubles the capacity (up to `max`), unwrapping the ring to start at slot 0. */
  #grow(): void {
    const cap = Math.min(this.#cap * 2, this.#max);
    const head = this.#head;
    const first = Math.min(this.#size, this.#cap - head); // readings before the wrap
    const data = new Float64Array(cap * FIELDS);
    data.set(this.#data.subarray(head * FIELDS, (head + first) * FIELDS));
    data.set(this.#data.subarray(0, (this.#size - first) * FIELDS), first * FIELDS);
    if (this.#seqs) {
      const seqs = new Float64Array(cap);
      seqs.set(this.#seqs.subarray(head, head + first));
      seqs.set(this.#seqs.subarray(0, this.#size - first), first);
      this.#seqs = seqs;
    }
    this.#data = data;
    this.#cap = cap;
    this.#head = 0;
  }

  /** Gives every slot its implicit sequence number, before a late reading breaks the rule. */
  #numberSlots(): void {
    const seqs = new Float64Array(this.#cap);
    const first = this.#next - this.#size;
    for (let i = 0; i < this.#size; i++) seqs[this.#slotOf(i)] = first + i;
    this.#seqs = seqs;
  }

  #copySlot(from: number, to: number): void {
    this.#data.copyWithin(to * FIELDS, from * FIELDS, (from + 1) * FIELDS);
    if (this.#seqs) this.#seqs[to] = this.#seqs[from]!;
  }
}
