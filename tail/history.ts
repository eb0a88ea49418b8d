/**
 * What the tail client remembers of the readings it passed on, per sensor: the newest reading's
 * time (where a `history` request after a reconnect starts) and the last few readings (so one
 * the server replays, or sends both live and in a `history` reply, is passed on once). Pure:
 * no sockets, no timers.
 * @module
 */
import {
  type HistoryReading,
  type HistoryRequest,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_HISTORY_SENSORS,
  type SensorReadingMessage,
} from "../protocol/mod.ts";
import { CappedMap } from "./capped_map.ts";

/**
 * Readings remembered per sensor to drop duplicates. Duplicates are the reading the server
 * replays at connect and those that arrive live while a `history` reply is on its way: a few.
 */
export const RECENT_READINGS = 16;

/** The measured values of a reading. */
type Values = Pick<HistoryReading, "moisture" | "temperature" | "humidity" | "light">;

/**
 * One reading's identity: its time and values. A reading the server sends twice has the same
 * key; two readings of a sensor whose clock is stuck do not, unless their values match too.
 */
export function readingKey(timestamp: string, values: Values): string {
  return `${timestamp} ${values.moisture} ${values.temperature} ${values.humidity} ${values.light}`;
}

interface Memory {
  /** Time of the newest reading passed on, as the server wrote it. */
  newest: string;
  newestMs: number;
  /** Keys of the last {@link RECENT_READINGS} readings passed on. */
  recent: string[];
}

/** Per-sensor memory of the readings passed on, for at most `max` sensors. */
export class ReadingMemory {
  readonly #sensors: CappedMap<string, Memory>;

  /** Remembers at most `max` sensors, forgetting the least recently updated first. */
  constructor(max: number) {
    this.#sensors = new CappedMap(max);
  }

  /** Sensors remembered. */
  get size(): number {
    return this.#sensors.size;
  }

  /**
   * Takes a live reading: true when it is new (and now remembered), false when it was passed
   * on already.
   */
  takeLive(msg: SensorReadingMessage): boolean {
    return this.#take(msg.data.sensor_id, msg.timestamp, readingKey(msg.timestamp, msg.data));
  }

  /**
   * The readings of a `history` reply not passed on before, oldest first, as `sensor_reading`
   * messages (a history reading's time is its message's `timestamp`); they are now remembered.
   */
  takeHistory(sensorId: string, readings: readonly HistoryReading[]): SensorReadingMessage[] {
    const fresh: SensorReadingMessage[] = [];
    for (const r of readings) {
      if (!this.#take(sensorId, r.timestamp, readingKey(r.timestamp, r))) continue;
      const { timestamp, moisture, temperature, humidity, light } = r;
      fresh.push({
        type: "sensor_reading",
        data: { sensor_id: sensorId, moisture, temperature, humidity, light },
        timestamp,
      });
    }
    return fresh;
  }

  /**
   * Where each remembered sensor's history resumes: the time of its newest reading, for the
   * `MAX_HISTORY_SENSORS` most recently updated sensors.
   */
  resumePoints(): Record<string, string> {
    const ids = [...this.#sensors.keys()].slice(-MAX_HISTORY_SENSORS);
    return Object.fromEntries(ids.map((id) => [id, this.#sensors.get(id)!.newest]));
  }

  #take(sensorId: string, timestamp: string, key: string): boolean {
    const known = this.#sensors.get(sensorId);
    if (known?.recent.includes(key)) return false;
    const at = Date.parse(timestamp);
    const memory = known ?? { newest: timestamp, newestMs: at, recent: [] };
    if (at > memory.newestMs) {
      memory.newest = timestamp;
      memory.newestMs = at;
    }
    memory.recent.push(key);
    if (memory.recent.length > RECENT_READINGS) memory.recent.shift();
    this.#sensors.set(sensorId, memory);
    return true;
  }
}

/** Largest `history` request sent, bytes: within what the server reads, with room to spare. */
const MAX_REQUEST_BYTES = MAX_CLIENT_MESSAGE_BYTES - 1_024;

/**
 * The `history` requests a connection sends once admitted: after a reconnect, for every sensor
 * remembered, what came after its newest reading (`resume`; split so each request stays within
 * the server's message size limit); otherwise the last `limit` readings per sensor, or nothing
 * when `limit` is 0.
 */
export function historyRequests(
  options: { resume: Record<string, string> | undefined; limit: number },
): HistoryRequest[] {
  const { resume = {}, limit } = options;
  const requests: HistoryRequest[] = [];
  const empty = JSON.stringify({ type: "history", since: {} }).length;
  // A Map, then fromEntries: a sensor may be called `__proto__`, which assignment would eat.
  let since = new Map<string, string>();
  let size = empty;
  const flush = () => requests.push({ type: "history", since: Object.fromEntries(since) });
  for (const [id, time] of Object.entries(resume)) {
    // Ids and times are ASCII (the protocol's patterns): characters are bytes.
    const entry = JSON.stringify(id).length + JSON.stringify(time).length + 2;
    if (size + entry > MAX_REQUEST_BYTES && since.size > 0) {
      flush();
      since = new Map();
      size = empty;
    }
    since.set(id, time);
    size += entry;
  }
  if (since.size > 0) flush();
  if (requests.length === 0 && limit > 0) requests.push({ type: "history", limit });
  return requests;
}

/** What a resume brought back: readings not seen before, and which sensors have gaps. */
export interface ResumeSummary {
  /** Readings in the replies that had not been passed on before. */
  readings: number;
  /**
   * Sensors whose history is incomplete (`complete: false`) or that got no reply: their
   * readings of the outage may be missing.
   */
  gaps: string[];
}

/** Counts the replies to a resume request until every sensor it named has one. */
export class ResumeTally {
  readonly #waiting: Set<string>;
  #readings = 0;
  readonly #gaps: string[] = [];

  /** `sensors`: those the request named, each expecting one reply. */
  constructor(sensors: Iterable<string>) {
    this.#waiting = new Set(sensors);
  }

  /** Takes one reply; true when it was the last one awaited. */
  take(sensorId: string, fresh: number, complete: boolean): boolean {
    if (!this.#waiting.delete(sensorId)) return false;
    this.#readings += fresh;
    if (!complete) this.#gaps.push(sensorId);
    return this.#waiting.size === 0;
  }

  /** The summary so far; sensors still without a reply count as gaps. */
  summary(): ResumeSummary {
    return { readings: this.#readings, gaps: [...this.#gaps, ...this.#waiting] };
  }
}
