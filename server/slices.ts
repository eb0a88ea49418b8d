/**
 * The hub's deferred work, a time slice at a time: the conflated rounds of an overloaded server,
 * then slow clients' latest-value queues in turn. A slice ends after {@link SLICE_MS} or
 * {@link SLICE_SENDS} messages, so MQTT input and new clients get the event loop often.
 * @module
 */
import type { Delivery } from "./delivery.ts";
import type { Client } from "./hub_client.ts";
import type { ResolvedHubOptions } from "./hub_options.ts";
import { Rounds } from "./rounds.ts";

/** Longest stretch of fan-out work before the event loop gets a turn, ms. */
const SLICE_MS = 10;
/**
 * Most messages a slice hands to sockets: their writes run on the same thread after the slice,
 * so this bounds each turn of the event loop.
 */
const SLICE_SENDS = 1_000;

/** Suffix of a sensor's status in per-sensor queues (a sensor id never contains `#`). */
export const STATUS = "#status";
/** Suffix of a sensor's latest `command_event` in per-sensor queues. */
export const COMMAND = "#command";
/** The sensor a queue key (a sensor id, or one with {@link STATUS} or {@link COMMAND}) belongs to. */
export const sensorOf = (key: string): string => {
  const at = key.indexOf("#");
  return at < 0 ? key : key.slice(0, at);
};

/** What one slice did. */
export interface SliceResult {
  busyMs: number;
  sent: number;
  /** Work is left: schedule another slice. */
  more: boolean;
}

/** Rounds and slow clients, served in slices. */
export class Slices {
  /** The latest reading (and status) per sensor while overloaded, handed out in rounds. */
  readonly rounds: Rounds<Client>;
  readonly #clients: ReadonlyMap<string, Client>;
  readonly #delivery: Delivery;
  readonly #o: ResolvedHubOptions;
  readonly #canSee: (client: Client, sensorId: string) => boolean;
  #roundSent = 0;

  constructor(
    clients: ReadonlyMap<string, Client>,
    parts: {
      delivery: Delivery;
      options: ResolvedHubOptions;
      canSee: (client: Client, sensorId: string) => boolean;
    },
  ) {
    this.#clients = clients;
    this.#delivery = parts.delivery;
    this.#o = parts.options;
    this.#canSee = parts.canSee;
    this.rounds = new Rounds<Client>((client, entries) => this.#deliver(client, entries));
  }

  /** Whether work waits. */
  get pending(): boolean {
    return this.rounds.pending || this.#delivery.slow.size > 0;
  }

  /** One slice: the current round, then slow clients in turn. */
  run(): SliceResult {
    const started = performance.now();
    const deadline = started + SLICE_MS;
    let flushed = 0;
    const timeUp = () => this.#roundSent + flushed >= SLICE_SENDS || performance.now() >= deadline;
    this.rounds.run(this.#clients, timeUp);
    for (const client of this.#delivery.slow.turns()) {
      if (timeUp()) break;
      flushed += this.#delivery.flush(client);
    }
    const unfinished = this.#delivery.slow.size > 0 && timeUp();
    if (flushed > 0) this.#o.onSent(flushed);
    const sent = flushed + this.#roundSent;
    this.#roundSent = 0;
    return { busyMs: performance.now() - started, sent, more: this.rounds.pending || unfinished };
  }

  /** A round's readings for one client: sent now, or kept as its latest per sensor. */
  #deliver(client: Client, entries: readonly (readonly [string, string])[]): void {
    const tally = { sent: 0, conflated: 0 };
    const visible = entries.filter(([key]) => this.#canSee(client, sensorOf(key)));
    this.#delivery.readings(client, visible, tally);
    this.#roundSent += tally.sent;
    if (tally.sent > 0) this.#o.onSent(tally.sent);
    if (tally.conflated > 0) this.#o.onConflated(tally.conflated);
  }
}
