/**
 * Conflated delivery for an overloaded server: readings wait as the latest per sensor, and
 * rounds visit every client in turn, a time slice at a time. Each client gets, at its turn, the
 * latest value of every sensor that changed since its previous turn: never a value older than
 * the newest one published, never one it already has. A round's cost is clients × sensors
 * changed, whatever the publish rate, and a reading's age at delivery is bounded by the time a
 * round takes, not by a backlog.
 * @module
 */

/** The latest reading of one sensor, and when it changed (a sequence number). */
interface Latest {
  text: string;
  seq: number;
}

/** One pass over the clients. */
interface Round<C> {
  clients: C[];
  next: number;
  /** Sequence number when it began. */
  startSeq: number;
}

/** Clients are checked against the deadline every this many. */
const CHECK_EVERY = 32;

/** The latest reading per sensor, delivered to all clients in fair rounds. */
export class Rounds<C extends { id: string } = { id: string }> {
  readonly #deliver: (client: C, entries: readonly (readonly [string, string])[]) => void;
  /** Latest reading per sensor changed since the last completed round began, oldest change first. */
  readonly #latest = new Map<string, Latest>();
  /** Sequence number of each client's last turn: it has every change up to it. */
  readonly #served = new WeakMap<C, number>();
  #seq = 0;
  /** When the last completed round began: every client has every change up to it. */
  #floor = 0;
  #round: Round<C> | undefined;

  /** `deliver` gives one client its readings (sensor id, serialized reading), oldest change first. */
  constructor(deliver: (client: C, entries: readonly (readonly [string, string])[]) => void) {
    this.#deliver = deliver;
  }

  /** Whether work waits: a round under way, or changes not every client has. */
  get pending(): boolean {
    return this.#round !== undefined || this.#seq > this.#floor;
  }

  /** Records a reading; true when it replaced one of its sensor not every client had yet. */
  offer(sensorId: string, text: string): boolean {
    const old = this.#latest.get(sensorId);
    const replaced = old !== undefined && old.seq > this.#floor;
    const entry = old ?? { text, seq: 0 };
    entry.text = text;
    entry.seq = ++this.#seq;
    // Re-inserted at the end: the map stays in change order, oldest first.
    this.#latest.delete(sensorId);
    this.#latest.set(sensorId, entry);
    return replaced;
  }

  /**
   * Serves clients until `timeUp()` (asked before each round and every {@link CHECK_EVERY}
   * clients): the current round's remaining clients, then new rounds while changes wait.
   * Clients that left are skipped; clients that came during a round wait for the next one.
   */
  run(clients: ReadonlyMap<string, C>, timeUp: () => boolean): void {
    while (!timeUp()) {
      if (!this.#round) {
        if (this.#seq === this.#floor) return;
        this.#round = { clients: [...clients.values()], next: 0, startSeq: this.#seq };
      }
      const round = this.#round;
      while (round.next < round.clients.length) {
        const client = round.clients[round.next++]!;
        if (clients.get(client.id) === client) this.#serve(client);
        if (round.next % CHECK_EVERY === 0 && timeUp()) return;
      }
      this.#round = undefined;
      this.#floor = round.startSeq;
      this.#prune();
    }
  }

  /** One client's turn: every change since its previous turn, at its latest value. */
  #serve(client: C): void {
    // A client new to the rounds got the connect snapshot; changes since the floor may repeat it.
    const since = this.#served.get(client) ?? this.#floor;
    if (since >= this.#seq) return;
    const entries: [string, string][] = [];
    for (const [sensorId, latest] of this.#latest) {
      if (latest.seq > since) entries.push([sensorId, latest.text]);
    }
    this.#served.set(client, this.#seq);
    if (entries.length > 0) this.#deliver(client, entries);
  }

  /** Forgets changes every client has. */
  #prune(): void {
    for (const [sensorId, latest] of this.#latest) {
      if (latest.seq > this.#floor) return;
      this.#latest.delete(sensorId);
    }
  }
}
