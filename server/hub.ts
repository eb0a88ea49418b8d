/**
 * Connected clients, their subscriptions, and the fan-out of already-serialized messages, with
 * bounded memory and fresh readings at any load. The hub talks to sockets only through a
 * {@link Transport}.
 *
 * Subscriptions follow the rules in `hub_client.ts` (`null` = every sensor the client may see).
 *
 * Memory: every client may buffer at most its share of `maxTotalBufferedBytes` (and at most
 * `maxBufferedBytes`); over it, it gets latest values only, and is closed with 1013 only when its
 * buffer makes no progress for `slowClientTimeoutMs` ({@link Delivery}).
 *
 * Freshness: below saturation every reading goes to every client at once. When fan-out cannot
 * keep up ({@link OverloadDetector}), readings are conflated to the latest per sensor and sent
 * in rounds over all clients, in time slices, so every client gets every sensor's latest value
 * once per round, and none waits behind a backlog.
 * @module
 */
import { Delivery } from "./delivery.ts";
import {
  Client,
  type ClientInfo,
  type HubClient,
  MAX_PENDING_REPLIES,
  MAX_SUBSCRIPTIONS,
  type Transport,
} from "./hub_client.ts";
import { type HubOptions, type ResolvedHubOptions, resolveHubOptions } from "./hub_options.ts";
import { Pacer, TICK_EXPECTED_MS } from "./pacer.ts";
import { COMMAND, Slices, STATUS } from "./slices.ts";

export { MAX_PENDING_REPLIES, MAX_SUBSCRIPTIONS, TICK_EXPECTED_MS };
export type { ClientInfo, HubClient, HubOptions, Transport };

const NO_SENSORS: ReadonlySet<string> = new Set();

/** What a client joining gets, each a serialized message of a sensor. */
export interface Snapshot {
  /** The last reading of every sensor. */
  readings: Iterable<{ sensorId: string; text: string }>;
  /** `sensor_status` of the stale sensors, after the readings. */
  statuses?: Iterable<{ sensorId: string; text: string }>;
  /** The latest `command_event` of each command in flight (the valves open now). */
  commands?: Iterable<{ sensorId: string; text: string }>;
}

/** Registry of connected clients and the fan-out to them. */
export class Hub {
  readonly #clients = new Map<string, Client>();
  readonly #o: ResolvedHubOptions;
  readonly #delivery: Delivery;
  readonly #pacer: Pacer;
  readonly #slices: Slices;

  /** Creates an empty hub; throws `RangeError` on negative or non-finite limits. */
  constructor(options: HubOptions) {
    this.#o = resolveHubOptions(options);
    this.#delivery = new Delivery(this.#o, (client) => this.#forget(client));
    this.#pacer = new Pacer({
      now: this.#o.clock.now(),
      overload: this.#o.overload,
      cpuMs: this.#o.cpuMs,
      defer: this.#o.defer,
      logger: this.#o.logger,
      run: () => this.#slice(),
    });
    this.#slices = new Slices(this.#clients, {
      delivery: this.#delivery,
      options: this.#o,
      canSee: (client, sensorId) => this.canSee(client, sensorId),
    });
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
    this.#delivery.reshare(this.#clients.size);
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
    return this.#delivery.slow.size;
  }

  /** Whether fan-out is conflating readings because it cannot keep up. */
  get overloaded(): boolean {
    return this.#pacer.overloaded;
  }

  /** Bytes buffered to all clients now (what the total budget bounds). */
  bufferedBytes(): number {
    let total = 0;
    for (const c of this.#clients.values()) total += c.transport.bufferedAmount;
    return total;
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
   * Adds sensors to a client's subscriptions. Returns what it now receives (`null` = all it may
   * see); an empty set for an unknown id. Ids beyond {@link MAX_SUBSCRIPTIONS} are ignored.
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

  /** Sets the sensors a client may see (a refreshed token's claim); false for an unknown id. */
  setAllowed(id: string, allowed: ReadonlySet<string> | null): boolean {
    const client = this.#clients.get(id);
    client?.setAllowed(allowed);
    return client !== undefined;
  }

  /** True when a message sent to the client now goes out at once (it is not behind). */
  ready(id: string): boolean {
    const client = this.#clients.get(id);
    return client !== undefined && this.#delivery.ready(client);
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
    if (this.#delivery.deferred(client)) {
      const kept = client.queueReply(text);
      if (!kept) this.#o.onDropped(1);
      return kept;
    }
    const sent = this.#delivery.send(client, text);
    if (sent) {
      this.#o.onSent(1);
      this.#pacer.count(0, 1);
    }
    return sent;
  }

  /**
   * Gives a client the last reading of every sensor it may see (the connect snapshot): they
   * wait in its latest-value queue and go out as fast as its buffer allows, so none is lost
   * however many sensors there are.
   */
  offerSnapshot(id: string, snapshot: Snapshot): void {
    const client = this.#clients.get(id);
    if (!client) return;
    this.#delivery.hold(client);
    for (const r of snapshot.readings) {
      if (this.canSee(client, r.sensorId)) client.queueReading(r.sensorId, r.text);
    }
    for (const s of snapshot.statuses ?? []) {
      if (this.canSee(client, s.sensorId)) client.queueReading(s.sensorId + STATUS, s.text);
    }
    for (const c of snapshot.commands ?? []) {
      if (this.canSee(client, c.sensorId)) client.queueReading(c.sensorId + COMMAND, c.text);
    }
    const sent = this.#delivery.flush(client);
    if (sent > 0) this.#o.onSent(sent);
    this.#pacer.count(0, sent);
  }

  /**
   * Sends one serialized reading to every client that can see it; returns how many got it now.
   * When overloaded, it goes to each client at its next turn in the rounds instead (replacing an
   * older one of the sensor).
   */
  publishReading(sensorId: string, text: string): number {
    return this.#publish(sensorId, sensorId, text);
  }

  /** Sends a sensor's `sensor_status` like a reading: a client behind keeps the latest. */
  publishStatus(sensorId: string, text: string): number {
    return this.#publish(sensorId, sensorId + STATUS, text);
  }

  /**
   * Sends a `command_event` of a sensor like a reading: a client behind keeps the latest (the
   * valve's state now), apart from the sensor's readings and status.
   */
  publishCommandEvent(sensorId: string, text: string): number {
    return this.#publish(sensorId, sensorId + COMMAND, text);
  }

  #publish(sensorId: string, key: string, text: string): number {
    // Rounds under way finish first, even once the overload is over: a reading sent at once
    // would otherwise overtake an older one of its sensor still waiting for a client's turn.
    if (this.#pacer.overloaded || this.#slices.rounds.pending) {
      if (this.#slices.rounds.offer(key, text)) this.#o.onConflated(1);
      this.#pacer.count(0, 0, this.#clients.size);
      this.#pacer.schedule();
      return 0;
    }
    const started = performance.now();
    const delivery = this.#delivery;
    let sent = 0;
    let conflated = 0;
    for (const client of this.#clients.values()) {
      if (!this.canSee(client, sensorId)) continue;
      if (delivery.deferred(client)) {
        if (client.queueReading(key, text)) conflated++;
      } else if (delivery.send(client, text)) sent++;
    }
    this.#pacer.count(performance.now() - started, sent, this.#clients.size);
    if (sent > 0) this.#o.onSent(sent);
    if (conflated > 0) this.#o.onConflated(conflated);
    return sent;
  }

  /** Sends to every client (a slow one keeps only the latest); returns how many got it now. */
  broadcast(text: string): number {
    let sent = 0;
    let dropped = 0;
    for (const client of this.#clients.values()) {
      if (this.#delivery.deferred(client)) {
        if (client.queueBroadcast(text)) dropped++;
      } else if (this.#delivery.send(client, text)) sent++;
    }
    if (sent > 0) this.#o.onSent(sent);
    if (dropped > 0) this.#o.onDropped(dropped);
    this.#pacer.count(0, sent);
    return sent;
  }

  /**
   * Every {@link TICK_EXPECTED_MS}: decides overload, closes slow clients whose buffer made no
   * progress for too long, and makes sure waiting work gets done.
   */
  tick(): void {
    const now = this.#o.clock.now();
    this.#pacer.tick(now, this.#clients.size);
    this.#delivery.closeStuck(now);
    if (this.#slices.pending) this.#pacer.schedule();
  }

  /** Closes every transport with `code` and `reason` (errors ignored), then forgets them all. */
  closeAll(close: { code: number; reason: string }): void {
    for (const client of this.#clients.values()) client.closeQuietly(close);
    this.#clients.clear();
    this.#delivery.slow.clear();
  }

  /** One slice of deferred work, counted for the overload detector. */
  #slice(): void {
    const { busyMs, sent, more } = this.#slices.run();
    this.#pacer.count(busyMs, sent);
    if (more) this.#pacer.schedule();
  }

  #forget(client: Client): void {
    this.#clients.delete(client.id);
    this.#delivery.slow.delete(client);
    this.#delivery.reshare(this.#clients.size);
  }
}
