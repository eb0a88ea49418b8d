/**
 * Handing messages to one client's transport within its share of the buffer budget: sent now,
 * or, once its buffer is over its share, kept in its latest-value queue (see `hub_client.ts`) and
 * flushed as it drains; a client whose buffer makes no progress for the slow-client timeout is
 * closed with 1013, one whose send throws with 1011. Split from `hub.ts`, which decides who gets
 * what; this decides how each message reaches a client.
 * @module
 */
import { CLOSES } from "../protocol/mod.ts";
import type { Client } from "./hub_client.ts";
import type { ResolvedHubOptions } from "./hub_options.ts";
import { SlowClients } from "./slow_clients.ts";

/** `WebSocket.OPEN`. */
const OPEN = 1;
/** A client's share of the total buffer never goes below this, bytes (a few readings). */
const MIN_SHARE_BYTES = 4 * 1024;

/** Per-client delivery under the buffer budget. */
export class Delivery {
  /** Clients in latest-value mode, oldest turn first. */
  readonly slow = new SlowClients();
  readonly #o: ResolvedHubOptions;
  /** Removes a client the delivery gave up on from the hub. */
  readonly #forget: (client: Client) => void;
  #share: number;

  constructor(options: ResolvedHubOptions, forget: (client: Client) => void) {
    this.#o = options;
    this.#forget = forget;
    this.#share = options.maxBufferedBytes;
  }

  /** Recomputes each client's share of the total budget for `clients` connected. */
  reshare(clients: number): void {
    const perClient = this.#o.maxTotalBufferedBytes / Math.max(1, clients);
    this.#share = Math.min(this.#o.maxBufferedBytes, Math.max(MIN_SHARE_BYTES, perClient));
  }

  /** True when a message must wait: the client is slow, or its buffer is over its share. */
  deferred(client: Client): boolean {
    if (client.slowSince !== null) return true;
    if (client.transport.bufferedAmount <= this.#share) return false;
    this.slow.mark(client, this.#o.clock.now());
    return true;
  }

  /** True when a message sent now goes out at once (the client is not slow, its buffer fits). */
  ready(client: Client): boolean {
    return client.slowSince === null && client.transport.bufferedAmount <= this.#share;
  }

  /** Puts a client in latest-value mode now (its queue is then flushed as it drains). */
  hold(client: Client): void {
    this.slow.mark(client, this.#o.clock.now());
  }

  /**
   * Readings for one client: each sent now or kept as its latest per sensor. Counts them in
   * `tally`; false when the client was dropped (its send failed).
   */
  readings(
    client: Client,
    entries: Iterable<readonly [string, string]>,
    tally: { sent: number; conflated: number },
  ): boolean {
    for (const [sensorId, text] of entries) {
      if (this.deferred(client)) {
        if (client.queueReading(sensorId, text)) tally.conflated++;
      } else if (this.send(client, text)) tally.sent++;
      else return false;
    }
    return true;
  }

  /** Sends what a slow client waits for, as far as its share allows; returns how many. */
  flush(client: Client): number {
    const sent = client.flush(
      (text) => {
        client.addedBytes += text.length;
        return this.send(client, text);
      },
      () => client.transport.bufferedAmount > this.#share,
    );
    if (client.slowSince === null) this.slow.delete(client);
    return sent;
  }

  /** Closes slow clients whose buffer has not shrunk for the slow-client timeout. */
  closeStuck(now: number): void {
    for (const client of this.slow.stuck(now, this.#o.slowClientTimeoutMs)) {
      this.#o.logger.warn("closing slow client", {
        client: client.id,
        stuckForMs: now - client.progressAt,
        bufferedBytes: client.transport.bufferedAmount,
      });
      this.#forget(client);
      client.dropped += client.pendingCount;
      this.#o.onDropped(client.pendingCount);
      client.closeQuietly(CLOSES.SLOW_CONSUMER);
      this.#o.onClosed(CLOSES.SLOW_CONSUMER.reason);
    }
  }

  /**
   * Sends now. A transport that throws is removed: quietly when its socket is already closing
   * (a normal disconnect, whose close event is logged elsewhere), else closed with 1011.
   */
  send(client: Client, text: string): boolean {
    try {
      client.transport.send(text);
      client.sent++;
      return true;
    } catch (error) {
      this.#forget(client);
      if (client.transport.readyState !== OPEN) return false;
      this.#o.logger.warn("send failed; dropping client", { client: client.id, error });
      client.closeQuietly(CLOSES.SEND_FAILED);
      this.#o.onClosed(CLOSES.SEND_FAILED.reason);
      return false;
    }
  }
}
