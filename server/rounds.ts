/**
 * Conflated delivery for an overloaded server: readings wait as the latest per sensor, and a
 * round hands the batch to every client in turn, a time slice at a time. A round's cost is
 * clients × sensors changed, whatever the publish rate; readings that arrive during a round go
 * into the next one, replacing older ones of their sensor.
 * @module
 */

/** One batch being handed out. */
interface Round<C> {
  entries: readonly (readonly [string, string])[];
  clients: C[];
  next: number;
}

/** Clients are checked against the deadline every this many. */
const CHECK_EVERY = 32;

/** Batches of the latest reading per sensor, delivered to all clients in fair rounds. */
export class Rounds<C extends { id: string } = { id: string }> {
  readonly #deliver: (client: C, entries: readonly (readonly [string, string])[]) => void;
  readonly #batch = new Map<string, string>();
  #round: Round<C> | undefined;

  /** `deliver` gives one client a round's readings (sensor id, serialized reading). */
  constructor(deliver: (client: C, entries: readonly (readonly [string, string])[]) => void) {
    this.#deliver = deliver;
  }

  /** Whether work waits: a round under way or readings for the next. */
  get pending(): boolean {
    return this.#round !== undefined || this.#batch.size > 0;
  }

  /** Adds a reading to the next round; true when it replaced an older one of its sensor. */
  offer(sensorId: string, text: string): boolean {
    const replaced = this.#batch.delete(sensorId);
    this.#batch.set(sensorId, text);
    return replaced;
  }

  /**
   * Hands out readings until `timeUp()` (asked before each round and every {@link CHECK_EVERY}
   * clients): the current round's remaining clients, then new rounds while readings wait.
   * Clients that left are skipped; clients that came during a round wait for the next one.
   */
  run(clients: ReadonlyMap<string, C>, timeUp: () => boolean): void {
    while (!timeUp()) {
      if (!this.#round) {
        if (this.#batch.size === 0) return;
        this.#round = { entries: [...this.#batch], clients: [...clients.values()], next: 0 };
        this.#batch.clear();
      }
      const round = this.#round;
      while (round.next < round.clients.length) {
        const client = round.clients[round.next++]!;
        if (clients.get(client.id) === client) this.#deliver(client, round.entries);
        if (round.next % CHECK_EVERY === 0 && timeUp()) return;
      }
      this.#round = undefined;
    }
  }
}
