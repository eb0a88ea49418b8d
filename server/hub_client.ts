/**
 * One client as the {@link Hub} keeps it: identity, subscriptions, counters and the bounded
 * latest-value queue it uses while the client is slow. Split from `hub.ts` to keep the
 * fan-out readable; only the hub constructs these.
 * @module
 */

/** What the hub needs of a socket. A `WebSocket` satisfies it. */
export interface Transport {
  /** Queues a text frame; may throw when the socket is gone. */
  send(data: string): void;
  /** Closes the connection with a close code and reason. */
  close(code: number, reason: string): void;
  /** Bytes queued but not yet sent. */
  readonly bufferedAmount: number;
  /** WebSocket ready state (1 = open); read only when a send fails, to tell a peer gone from a fault. */
  readonly readyState: number;
}

/** Who a client is, fixed at connect. */
export interface ClientInfo {
  /** 8 hex chars, unique among connected clients. */
  id: string;
  /** Token `sub` (`""` if none). */
  subject: string;
  /** Peer address, for logs. */
  remoteAddr: string;
  /** Connect time, ms. */
  connectedAt: number;
  /** Sensors the token's `sensors` claim allows; `null` = all. */
  allowed: ReadonlySet<string> | null;
}

/** A connected client as callers of the hub see it. */
export interface HubClient extends ClientInfo {
  /** Explicit subscriptions, already limited to `allowed`; `null` = all it may see. */
  readonly subscriptions: ReadonlySet<string> | null;
  /** With `subscriptions` `null`: ids unsubscribed from "all". Empty otherwise. */
  readonly excluded: ReadonlySet<string>;
  /** Messages handed to the transport. */
  readonly sent: number;
  /** Messages dropped for it: replaced while slow, over the reply bound, discarded at a 1013. */
  readonly dropped: number;
  /** In latest-value mode: its buffer was over the limit and it has not drained yet. */
  readonly slow: boolean;
}

/** Most direct replies kept for a slow client; later ones are dropped. */
export const MAX_PENDING_REPLIES = 16;
/** Most ids kept in a client's subscriptions or exclusions; further ids are ignored. */
export const MAX_SUBSCRIPTIONS = 1_000;

const NONE: ReadonlySet<string> = new Set();

/** Hub-internal client state. */
export class Client implements HubClient {
  readonly id: string;
  readonly subject: string;
  readonly remoteAddr: string;
  readonly connectedAt: number;
  readonly allowed: ReadonlySet<string> | null;
  readonly transport: Transport;
  subscriptions: ReadonlySet<string> | null = null;
  excluded: ReadonlySet<string> = NONE;
  sent = 0;
  dropped = 0;
  /** Clock time it became slow, or `null`. */
  slowSince: number | null = null;
  readonly #readings = new Map<string, string>();
  #broadcast: string | undefined;
  #replies: string[] = [];

  constructor(info: ClientInfo, transport: Transport) {
    this.id = info.id;
    this.subject = info.subject;
    this.remoteAddr = info.remoteAddr;
    this.connectedAt = info.connectedAt;
    this.allowed = info.allowed;
    this.transport = transport;
  }

  get slow(): boolean {
    return this.slowSince !== null;
  }

  /** Messages waiting for the buffer to drain. */
  get pendingCount(): number {
    return this.#readings.size + this.#replies.length + (this.#broadcast === undefined ? 0 : 1);
  }

  setSubscriptions(sensors: Iterable<string> | null): ReadonlySet<string> | null {
    this.excluded = NONE;
    this.subscriptions = sensors === null
      ? null
      : this.#addCapped(new Set(), this.#visible(sensors));
    return this.subscriptions;
  }

  subscribe(sensors: Iterable<string>): ReadonlySet<string> | null {
    if (this.subscriptions === null && this.excluded.size > 0) {
      const excluded = new Set(this.excluded);
      for (const id of sensors) excluded.delete(id);
      this.excluded = excluded.size > 0 ? excluded : NONE;
      return null;
    }
    this.subscriptions = this.#addCapped(new Set(this.subscriptions), this.#visible(sensors));
    return this.subscriptions;
  }

  unsubscribe(sensors: Iterable<string>): ReadonlySet<string> | null {
    if (this.subscriptions === null && this.allowed === null) {
      this.excluded = this.#addCapped(new Set(this.excluded), sensors);
      return null;
    }
    const next = new Set(this.subscriptions ?? this.allowed);
    for (const id of sensors) next.delete(id);
    this.subscriptions = next;
    return next;
  }

  /** Keeps only the latest text per sensor; true when an older one was replaced (dropped). */
  queueReading(sensorId: string, text: string): boolean {
    const replaced = this.#readings.has(sensorId);
    this.#readings.set(sensorId, text);
    if (replaced) this.dropped++;
    return replaced;
  }

  /** Keeps only the latest broadcast; true when an older one was replaced (dropped). */
  queueBroadcast(text: string): boolean {
    const replaced = this.#broadcast !== undefined;
    this.#broadcast = text;
    if (replaced) this.dropped++;
    return replaced;
  }

  /** Queues a direct reply; false (dropped) when {@link MAX_PENDING_REPLIES} are waiting. */
  queueReply(text: string): boolean {
    if (this.#replies.length >= MAX_PENDING_REPLIES) {
      this.dropped++;
      return false;
    }
    this.#replies.push(text);
    return true;
  }

  /** Empties the queue and leaves slow mode; replies first, then the broadcast, then readings. */
  takePending(): string[] {
    const out = this.#replies;
    if (this.#broadcast !== undefined) out.push(this.#broadcast);
    for (const text of this.#readings.values()) out.push(text);
    this.#replies = [];
    this.#broadcast = undefined;
    this.#readings.clear();
    this.slowSince = null;
    return out;
  }

  /** Closes the transport, ignoring errors from an already-dead socket. */
  closeQuietly({ code, reason }: { code: number; reason: string }): void {
    try {
      this.transport.close(code, reason);
    } catch {
      // best effort: the peer may be gone already
    }
  }

  *#visible(sensors: Iterable<string>): Iterable<string> {
    for (const id of sensors) if (this.allowed === null || this.allowed.has(id)) yield id;
  }

  /** Adds ids to `set` up to {@link MAX_SUBSCRIPTIONS}; the rest are ignored. */
  #addCapped(set: Set<string>, ids: Iterable<string>): Set<string> {
    for (const id of ids) {
      if (set.size >= MAX_SUBSCRIPTIONS) break;
      set.add(id);
    }
    return set;
  }
}
