/**
 * A map with a size limit, for per-sensor state: the server decides how many sensor ids there
 * are, so without a limit a server (or a broker behind it) could grow tail's memory at will.
 * @module
 */

/** Sensors whose state tail keeps (table rows, replay de-duplication). */
export const MAX_SENSORS = 1_000;

/** A `Map` of at most `max` entries that forgets the least recently set one first. */
export class CappedMap<K, V> {
  /** Most entries kept. */
  readonly max: number;
  readonly #map = new Map<K, V>();
  #evicted = 0;

  /** Throws `RangeError` unless `max` is a positive integer. */
  constructor(max: number = MAX_SENSORS) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`CappedMap max must be a positive integer, got ${max}`);
    }
    this.max = max;
  }

  /** The value of `key`, without making it more recent. */
  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Sets `key` as the most recent entry, forgetting the least recent one when full. */
  set(key: K, value: V): void {
    // Re-inserting moves the key to the end: insertion order is recency order.
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) {
      this.#map.delete(this.#map.keys().next().value as K);
      this.#evicted++;
    }
  }

  /** Entries kept. */
  get size(): number {
    return this.#map.size;
  }

  /** Entries forgotten to stay within `max`, in all. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Keys, least recently set first. */
  keys(): IterableIterator<K> {
    return this.#map.keys();
  }
}
