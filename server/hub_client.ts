/**
 * One client as the {@link Hub} keeps it: identity, subscriptions, counters and the bounded
 * latest-value queue it uses while the client is slow. Split from `hub.ts` to keep the
 * fan-out readable; only the hub constructs these.
 *
 * Subscriptions: `null` means every sensor the client may see. `subscribe` from `null`
 * narrows to exactly the given ids (what a dashboard asking for V1,V3 wants); from an explicit
 * set it adds. `unsubscribe` removes from an explicit set; from `null` it becomes the client's
 * `allowed` set minus the ids, or, when the client may see everything, "all except" those ids
 * (kept in `excluded`; a later `subscribe` of an excluded id removes it from there).
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
  allowed: ReadonlySet<string> | null;
  readonly transport: Transport;
  subscriptions: ReadonlySet<string> | null = null;
  excluded: ReadonlySet<string> = NONE;
  sent = 0;
  dropped = 0;
  /** Clock time it became slow, or `null`. */
  slowSince: number | null = null;
  /**
   * While slow: when its socket last drained any bytes, its buffer then, and the bytes handed to
   * it since (drained = last + added − now; a stuck client never drains).
   */
  progressAt = 0;
  lastBuffered = 0;
  addedBytes = 0;
  // Allocated only while slow: an idle client costs as little as possible.
  #readings: Map<string, string> | undefined;
  #broadcast: string | undefined;
  #replies: string[] | undefined;

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
    return (this.#readings?.size ?? 0) + (this.#replies?.length ?? 0) +
      (this.#broadcast === undefined ? 0 : 1);
  }

  /** A new limit from a refreshed token: explicit subscriptions narrow to it; `null` = all. */
  setAllowed(allowed: ReadonlySet<string> | null): void {
    this.allowed = allowed;
    if (this.subscriptions !== null && allowed !== null) {
      this.subscriptions = new Set([...this.subscriptions].filter((id) => allowed.has(id)));
    }
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

  /** Keeps only the latest text per sensor; true when an older one was replaced (conflated). */
  queueReading(sensorId: string, text: string): boolean {
    const readings = this.#readings ??= new Map();
    const replaced = readings.has(sensorId);
    // Re-inserted at the end: flushes go oldest change first, so none waits forever.
    if (replaced) readings.delete(sensorId);
    readings.set(sensorId, text);
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
    const replies = this.#replies ??= [];
    if (replies.length >= MAX_PENDING_REPLIES) {
      this.dropped++;
      return false;
    }
    replies.push(text);
    return true;
  }

  /**
   * Sends what waits, replies first, then the broadcast, then readings (oldest change first),
   * while `send` succeeds and `full()` is false. Returns how many were sent; the client leaves
   * slow mode once nothing waits.
   */
  flush(send: (text: string) => boolean, full: () => boolean): number {
    let sent = 0;
    const next = (text: string) => !full() && send(text) && ++sent > 0;
    while (this.#replies?.length) {
      if (!next(this.#replies[0]!)) return sent;
      this.#replies.shift();
    }
    if (this.#broadcast !== undefined) {
      if (!next(this.#broadcast)) return sent;
      this.#broadcast = undefined;
    }
    for (const [sensorId, text] of this.#readings ?? []) {
      if (!next(text)) return sent;
      this.#readings!.delete(sensorId);
    }
    this.#readings = undefined;
    this.#replies = undefined;
    this.slowSince = null;
    return sent;
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
