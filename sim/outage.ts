/**
 * Planned outages: a sensor publishes nothing for a while and then resumes, so that a server's
 * staleness (and its recovery) can be seen. Pure: whether a sensor is silent is a function of
 * the run's elapsed time, the same clock the schedule uses (time since the first connect, time
 * the broker was away included).
 * @module
 */
import { OptionError } from "../lib/errors.ts";

/** When an outage starts when no start is given: 10 s into the run. */
export const DEFAULT_OUTAGE_START_MS = 10_000;

/** One sensor publishing nothing for a while. */
export interface Outage {
  /** The sensor that goes silent; one of the run's sensors. */
  sensorId: string;
  /** How long it stays silent, ms (> 0). */
  durationMs: number;
  /** When it goes silent, ms after the run started. Default {@link DEFAULT_OUTAGE_START_MS}. */
  startMs?: number | undefined;
}

/**
 * A sensor's outage state changed, as seen when its reading came due: it went silent (and will
 * stay so until `untilMs`), or it publishes again after `silentMs` without a reading.
 */
export type OutageChange =
  | { sensorId: string; silent: true; atMs: number; untilMs: number }
  | { sensorId: string; silent: false; atMs: number; silentMs: number };

/** What to do with a reading that came due. */
export interface OutageTurn {
  /** Publish it (false: the sensor is in an outage). */
  publish: boolean;
  /** Set when this reading is the first one withheld, or the first one after an outage. */
  change?: OutageChange;
}

/**
 * Checks outages against the run's sensors before anything connects; throws `OptionError`
 * (option `outages`) naming the bad one.
 */
export function checkOutages(outages: readonly Outage[], sensors: readonly string[]): void {
  for (const o of outages) {
    if (!sensors.includes(o.sensorId)) {
      throw new OptionError(
        "outages",
        `names sensor '${o.sensorId}', which this run does not publish ` +
          `(its {sensors}: ${sensors.join(",")})`,
      );
    }
    if (!(Number.isFinite(o.durationMs) && o.durationMs > 0)) {
      throw new OptionError("outages", `of ${o.sensorId} must last > 0 ms, got ${o.durationMs}`);
    }
    const start = o.startMs ?? DEFAULT_OUTAGE_START_MS;
    if (!(Number.isFinite(start) && start >= 0)) {
      throw new OptionError("outages", `of ${o.sensorId} must start at >= 0 ms, got ${start}`);
    }
  }
}

/** A run's outages, and which sensors are silent now; feed it every reading in order. */
export class OutagePlan {
  /** Per sensor, its silent spans [start, end) in ms, sorted, overlapping ones merged. */
  readonly #spans = new Map<string, Array<[number, number]>>();
  /** Sensors whose latest reading was withheld, and when the first withheld one was due. */
  readonly #silentSince = new Map<string, number>();

  /** A plan from checked outages (see {@link checkOutages}). */
  constructor(outages: readonly Outage[] = []) {
    for (const o of outages) {
      const start = o.startMs ?? DEFAULT_OUTAGE_START_MS;
      const spans = this.#spans.get(o.sensorId) ?? [];
      spans.push([start, start + o.durationMs]);
      this.#spans.set(o.sensorId, spans);
    }
    for (const [id, spans] of this.#spans) this.#spans.set(id, merged(spans));
  }

  /** The end of the outage `sensorId` is in at `elapsedMs`, or `undefined` when it is in none. */
  silentUntil(sensorId: string, elapsedMs: number): number | undefined {
    const span = this.#spans.get(sensorId)?.find(([s, e]) => s <= elapsedMs && elapsedMs < e);
    return span?.[1];
  }

  /**
   * The reading of `sensorId` due `elapsedMs` into the run: whether to publish it and whether
   * the sensor just went silent or came back. Call in the order the readings come due.
   */
  turn(sensorId: string, elapsedMs: number): OutageTurn {
    const until = this.silentUntil(sensorId, elapsedMs);
    const since = this.#silentSince.get(sensorId);
    if (until !== undefined) {
      if (since !== undefined) return { publish: false };
      this.#silentSince.set(sensorId, elapsedMs);
      return {
        publish: false,
        change: { sensorId, silent: true, atMs: elapsedMs, untilMs: until },
      };
    }
    if (since === undefined) return { publish: true };
    this.#silentSince.delete(sensorId);
    return {
      publish: true,
      change: { sensorId, silent: false, atMs: elapsedMs, silentMs: elapsedMs - since },
    };
  }
}

/** Sorted spans with overlapping and touching ones joined (two back-to-back outages are one). */
function merged(spans: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}
