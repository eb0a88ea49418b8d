/**
 * The hub's clients in latest-value mode: who they are, whose turn it is to be flushed, and which
 * have stopped draining. Split from `hub.ts`; no I/O of its own.
 * @module
 */
import type { Client } from "./hub_client.ts";

/** Slow clients in turn order (the longest-unserved first), with drain-progress bookkeeping. */
export class SlowClients {
  readonly #turns = new Set<Client>();

  /** Clients in latest-value mode now. */
  get size(): number {
    return this.#turns.size;
  }

  /** Puts `client` in latest-value mode at `now` (no-op if it already is). */
  mark(client: Client, now: number): void {
    if (client.slowSince !== null) return;
    client.slowSince = now;
    client.progressAt = now;
    client.lastBuffered = client.transport.bufferedAmount;
    client.addedBytes = 0;
    this.#turns.add(client);
  }

  /** Forgets `client` (it left, or drained and is no longer slow). */
  delete(client: Client): void {
    this.#turns.delete(client);
  }

  /** Forgets every client. */
  clear(): void {
    this.#turns.clear();
  }

  /**
   * Each slow client once, longest-unserved first, each moved to the back of the line as it is
   * yielded, so a caller that stops early starts the next time with those it did not serve.
   */
  *turns(): Generator<Client> {
    for (const client of [...this.#turns]) {
      if (!this.#turns.delete(client)) continue; // left meanwhile
      this.#turns.add(client);
      yield client;
    }
  }

  /**
   * Updates each client's drain progress at `now` and returns those whose buffer has not shrunk
   * for more than `timeoutMs` (drained = buffered before + bytes added since − buffered now).
   */
  stuck(now: number, timeoutMs: number): Client[] {
    const stuck: Client[] = [];
    for (const client of this.#turns) {
      const buffered = client.transport.bufferedAmount;
      if (client.lastBuffered + client.addedBytes > buffered) client.progressAt = now;
      client.lastBuffered = buffered;
      client.addedBytes = 0;
      if (now - client.progressAt > timeoutMs) stuck.push(client);
    }
    return stuck;
  }
}
