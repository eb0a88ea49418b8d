/**
 * Connected clients, their subscriptions, fan-out of already-serialized messages, and the
 * slow-consumer policy. The hub talks to sockets only through a {@link Transport}.
 *
 * Subscriptions: `null` means every sensor the client may see. `subscribe` from `null`
 * narrows to exactly the given ids (what a dashboard asking for V1,V3 wants); from an explicit
 * set it adds. `unsubscribe` removes from an explicit set; from `null` it becomes the client's
 * `allowed` set minus the ids, or, when the client may see everything, "all except" those ids
 * (kept in `excluded`; a later `subscribe` of an excluded id removes it from there).
 *
 * Slow consumers: a client whose `bufferedAmount` exceeds `maxBufferedBytes` enters
 * latest-value mode: at most one pending message per sensor, one pending broadcast and
 * {@link MAX_PENDING_REPLIES} direct replies. `tick()` flushes it once its buffer drains, or
 * closes it with 1013 after `slowClientTimeoutMs`.
 * @module
 */
import { silentLogger } from "../lib/log.ts";
import type { Logger } from "../lib/log.ts";
import { CLOSES } from "../protocol/mod.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import {
  Client,
  type ClientInfo,
  type HubClient,
  MAX_PENDING_REPLIES,
  MAX_SUBSCRIPTIONS,
  type Transport,
} from "./hub_client.ts";

export { MAX_PENDING_REPLIES, MAX_SUBSCRIPTIONS };
export type { ClientInfo, HubClient, Transport };

const NO_SENSORS: ReadonlySet<string> = new Set();
/** `WebSocket.OPEN`. */
const OPEN = 1;

/** Options of {@link Hub}. */
export interface HubOptions {
  /** A client whose transport buffers more than this enters latest-value mode. */
  maxBufferedBytes: number;
  /** A slow client whose buffer does not drain within this is closed with 1013. */
  slowClientTimeoutMs: number;
  /** `now()` is used for slow-since bookkeeping. Default: the system clock. */
  clock?: Clock;
  /** Where send failures and slow-client closes are logged. Default: silent. */
  logger?: Logger;
  /** Called with the number of messages handed to transports (once per operation). */
  onSent?(count: number): void;
  /** Called with the number of messages dropped for slow clients (once per operation). */
  onDropped?(count: number): void;
  /** Called when the hub itself closes a client (slow consumer, failed send), with the reason. */
  onClosed?(reason: string): void;
}

/** Registry of connected clients and the fan-out to them. */
export class Hub {
  readonly #clients = new Map<string, Client>();
  /** Clients in latest-value mode, so `tick()` costs O(slow clients). */
  readonly #slow = new Set<Client>();
  readonly #maxBuffered: number;
  readonly #slowTimeoutMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onSent: (count: number) => void;
  readonly #onDropped: (count: number) => void;
  readonly #onClosed: (reason: string) => void;

  /** Creates an empty hub; throws `RangeError` on negative or non-finite limits. */
  constructor(options: HubOptions) {
    for (const key of ["maxBufferedBytes", "slowClientTimeoutMs"] as const) {
      const v = options[key];
      if (!Number.isFinite(v) || v < 0) {
        throw new RangeError(`Hub option ${key} must be a finite number >= 0, got ${v}`);
      }
    }
    this.#maxBuffered = options.maxBufferedBytes;
    this.#slowTimeoutMs = options.slowClientTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#onSent = options.onSent ?? (() => {});
    this.#onDropped = options.onDropped ?? (() => {});
    this.#onClosed = options.onClosed ?? (() => {});
  }

  /** Registers a client; throws `RangeError` if its id is already taken. */
  add(
    info: ClientInfo,
    transport: Transport,
    subscriptions: Iterable<string> | null = null,
  ): HubClient {
    if (this.#clients.has(info.id)) {
      throw new RangeError(`Client id ${info.id} is already connected; generate another id`);
    }
    const client = new Client(info, transport);
    client.setSubscriptions(subscriptions);
    this.#clients.set(info.id, client);
    return client;
  }

  /** Forgets a client without closing its transport; false if it was not registered. */
  remove(id: string): boolean {
    const client = this.#clients.get(id);
    if (!client) return false;
    this.#forget(client);
    return true;
  }

  /** The client with this id, if connected. */
  get(id: string): HubClient | undefined {
    return this.#clients.get(id);
  }

  /** Number of connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /** Clients in latest-value mode now. */
  get slowCount(): number {
    return this.#slow.size;
  }

  /** All connected clients. */
  clients(): IterableIterator<HubClient> {
    return this.#clients.values();
  }

  /** Whether `client` is allowed to see and subscribed to `sensorId`. */
  canSee(client: HubClient, sensorId: string): boolean {
    if (client.allowed !== null && !client.allowed.has(sensorId)) return false;
    return client.subscriptions === null
      ? !client.excluded.has(sensorId)
      : client.subscriptions.has(sensorId);
  }

  /**
   * Adds sensors to a client's subscriptions (see the module doc for the rule from `null`).
   * Returns what it now receives (`null` = all it may see); an empty set for an unknown id.
   * Ids beyond {@link MAX_SUBSCRIPTIONS} are ignored (the result shows what was kept).
   */
  subscribe(id: string, sensors: Iterable<string>): ReadonlySet<string> | null {
    const client = this.#clients.get(id);
    return client ? client.subscribe(sensors) : NO_SENSORS;
  }

  /** Removes sensors from a client's subscriptions; returns them as {@link Hub.subscribe}. */
  unsubscribe(id: string, sensors: Iterable<string>): ReadonlySet<string> | null {
    const client = this.#clients.get(id);
    return client ? client.unsubscribe(sensors) : NO_SENSORS;
  }

  /** Replaces a client's subscriptions (`null` = all it may see); returns them. */
  setSubscriptions(id: string, sensors: Iterable<string> | null): ReadonlySet<string> | null {
    const client = this.#clients.get(id);
    return client ? client.setSubscriptions(sensors) : NO_SENSORS;
  }

  /**
   * Sends a direct reply; for a slow client it is queued (up to {@link MAX_PENDING_REPLIES}).
   * False when the client is unknown, the reply was dropped, or the send failed.
   */
  sendTo(id: string, text: string): boolean {
    const client = this.#clients.get(id);
    if (!client) return false;
    if (this.#deferred(client)) {
      const kept = client.queueReply(text);
      if (!kept) this.#onDropped(1);
      return kept;
    }
    const sent = this.#send(client, text);
    if (sent) this.#onSent(1);
    return sent;
  }

  /** Sends one serialized reading to every client that can see it; returns how many got it now. */
  publishReading(sensorId: string, text: string): number {
    let sent = 0;
    let dropped = 0;
    for (const client of this.#clients.values()) {
      if (!this.canSee(client, sensorId)) continue;
      if (this.#deferred(client)) {
        if (client.queueReading(sensorId, text)) dropped++;
      } else if (this.#send(client, text)) sent++;
    }
    if (sent > 0) this.#onSent(sent);
    if (dropped > 0) this.#onDropped(dropped);
    return sent;
  }

  /** Sends to every client (a slow one keeps only the latest); returns how many got it now. */
  broadcast(text: string): number {
    let sent = 0;
    let dropped = 0;
    for (const client of this.#clients.values()) {
      if (this.#deferred(client)) {
        if (client.queueBroadcast(text)) dropped++;
      } else if (this.#send(client, text)) sent++;
    }
    if (sent > 0) this.#onSent(sent);
    if (dropped > 0) this.#onDropped(dropped);
    return sent;
  }

  /** Flushes slow clients whose buffer drained; closes those slow for too long with 1013. */
  tick(): void {
    const now = this.#clock.now();
    let sent = 0;
    let dropped = 0;
    for (const client of this.#slow) {
      // Every client in #slow has slowSince set (it is set on the way in).
      const since = client.slowSince!;
      if (client.transport.bufferedAmount <= this.#maxBuffered) {
        this.#slow.delete(client);
        for (const text of client.takePending()) {
          if (!this.#send(client, text)) break;
          sent++;
        }
      } else if (now - since > this.#slowTimeoutMs) {
        dropped += client.pendingCount;
        this.#logger.warn("closing slow client", {
          client: client.id,
          slowForMs: now - since,
          bufferedBytes: client.transport.bufferedAmount,
        });
        this.#forget(client);
        client.dropped += client.pendingCount;
        client.closeQuietly(CLOSES.SLOW_CONSUMER);
        this.#onClosed(CLOSES.SLOW_CONSUMER.reason);
      }
    }
    if (sent > 0) this.#onSent(sent);
    if (dropped > 0) this.#onDropped(dropped);
  }

  /** Closes every transport with `code` and `reason` (errors ignored), then forgets them all. */
  closeAll(close: { code: number; reason: string }): void {
    for (const client of this.#clients.values()) client.closeQuietly(close);
    this.#clients.clear();
    this.#slow.clear();
  }

  #forget(client: Client): void {
    this.#clients.delete(client.id);
    this.#slow.delete(client);
  }

  /** True when the message must wait: the client is slow, or its buffer is over the limit now. */
  #deferred(client: Client): boolean {
    if (client.slowSince !== null) return true;
    if (client.transport.bufferedAmount <= this.#maxBuffered) return false;
    client.slowSince = this.#clock.now();
    this.#slow.add(client);
    this.#logger.debug("client slow", {
      client: client.id,
      bufferedBytes: client.transport.bufferedAmount,
    });
    return true;
  }

  /**
   * Sends now. A transport that throws is removed: quietly when its socket is already closing
   * (a normal disconnect, whose close event is logged elsewhere), else closed with 1011.
   */
  #send(client: Client, text: string): boolean {
    try {
      client.transport.send(text);
      client.sent++;
      return true;
    } catch (error) {
      this.#forget(client);
      if (client.transport.readyState !== OPEN) return false;
      this.#logger.warn("send failed; dropping client", { client: client.id, error });
      client.closeQuietly(CLOSES.SEND_FAILED);
      this.#onClosed(CLOSES.SEND_FAILED.reason);
      return false;
    }
  }
}
