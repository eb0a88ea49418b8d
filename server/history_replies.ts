/**
 * Answers `history` requests: one `history` message per sensor, built when the client's send
 * buffer has room (never queued whole, never dropped by the slow-client policy), from readings
 * held when the request came: later ones reach the client live, so history and live readings
 * meet with neither a gap nor an overlap.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import { type HistoryRequest, parseHistoryTime } from "../protocol/mod.ts";
import type { HistoryStore } from "./history.ts";
import type { Hub } from "./hub.ts";

/** Requests a client may have waiting; one more is refused until one is answered. */
export const MAX_PENDING_REQUESTS = 4;
/** Clients whose replies are sent concurrently: bounds what history holds in send buffers. */
const ACTIVE_CLIENTS = 32;
/** Longest stretch of reply building before the event loop gets a turn, ms. */
const SLICE_MS = 10;
/**
 * How often waiting replies check for room, ms: with {@link SLICE_MS}, replies take at most a
 * third of the event loop however many clients ask.
 */
const POLL_MS = 20;

/** One sensor's reply, not yet built. */
interface Reply {
  sensorId: string;
  since: number;
  limit: number | undefined;
  /** The store's cursor when the request came: later readings go live. */
  upTo: number;
}

/** What the requests ask; the time each was made. */
export interface HistoryRepliesOptions {
  hub: Hub;
  store: HistoryStore;
  clock: Clock;
  /** How far back history goes, ms: the default `since`. */
  windowMs: number;
}

/** Pending history replies of every client. */
export class HistoryReplies {
  readonly #o: HistoryRepliesOptions;
  /** Replies waiting per client, in request order; clients in the order they asked. */
  readonly #waiting = new Map<string, { replies: Reply[]; requests: number }>();
  #timer: unknown;

  constructor(options: HistoryRepliesOptions) {
    this.#o = options;
  }

  /**
   * Queues the replies to `request` from client `clientId`. Returns the sensors it asked for by
   * name that its token does not allow (they get no reply), or a refusal when too many requests
   * wait already.
   */
  request(clientId: string, request: HistoryRequest): { denied: string[] } | { refused: string } {
    const { hub, store, clock, windowMs } = this.#o;
    const client = hub.get(clientId);
    if (!client) return { denied: [] };
    const waiting = this.#waiting.get(clientId) ?? { replies: [], requests: 0 };
    if (waiting.requests >= MAX_PENDING_REQUESTS) {
      return { refused: `${MAX_PENDING_REQUESTS} history requests are still being answered` };
    }
    const now = clock.now();
    const { since } = request;
    const perSensor = typeof since === "object" ? since : undefined;
    let sensors = perSensor ? Object.keys(perSensor) : request.sensors;
    if (perSensor && request.sensors) {
      sensors = sensors!.filter((s) => request.sensors!.includes(s));
    }
    const named = sensors !== undefined;
    sensors ??= [...store.sensors()].filter((id) => hub.canSee(client, id));
    const denied: string[] = [];
    for (const sensorId of new Set(sensors)) {
      if (named && client.allowed !== null && !client.allowed.has(sensorId)) {
        denied.push(sensorId);
        continue;
      }
      const time = perSensor?.[sensorId] ?? (typeof since === "string" ? since : undefined);
      waiting.replies.push({
        sensorId,
        since: time === undefined ? now - windowMs : parseHistoryTime(time, now)!,
        limit: request.limit,
        upTo: store.cursor(sensorId),
      });
    }
    waiting.requests++;
    this.#waiting.set(clientId, waiting);
    this.#pump();
    return { denied };
  }

  /** Forgets a client's waiting replies (it left). */
  cancel(clientId: string): void {
    this.#waiting.delete(clientId);
    if (this.#waiting.size === 0) this.#stop();
  }

  /** Stops (shutdown). */
  close(): void {
    this.#waiting.clear();
    this.#stop();
  }

  /** Sends replies to the first clients in line while their buffers have room. */
  #pump(): void {
    this.#stop();
    const { hub } = this.#o;
    const deadline = performance.now() + SLICE_MS;
    let active = 0;
    for (const [clientId, waiting] of this.#waiting) {
      if (active++ >= ACTIVE_CLIENTS || performance.now() >= deadline) break;
      if (!hub.get(clientId)) {
        this.#waiting.delete(clientId);
        continue;
      }
      while (waiting.replies.length > 0 && hub.ready(clientId)) {
        hub.sendTo(clientId, this.#build(waiting.replies.shift()!));
        if (performance.now() >= deadline) break;
      }
      if (waiting.replies.length === 0) this.#waiting.delete(clientId);
    }
    if (this.#waiting.size > 0) {
      this.#timer = this.#o.clock.setTimeout(() => this.#pump(), POLL_MS);
    }
  }

  #stop(): void {
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #build(reply: Reply): string {
    const { store, clock } = this.#o;
    // The store writes the readings' JSON itself: no object per reading, 4× faster than
    // building them and calling JSON.stringify.
    const { readings, complete } = store.json(reply.sensorId, reply);
    const sensor = JSON.stringify(reply.sensorId);
    const at = new Date(clock.now()).toISOString();
    return `{"type":"history","data":{"sensor_id":${sensor},"readings":${readings},` +
      `"complete":${complete}},"timestamp":"${at}"}`;
  }
}
