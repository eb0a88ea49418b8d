/**
 * Commanded irrigation, pure: how much a station's soil moisture rises while its valve is open,
 * handed out as water over the run's time. No clock: every call is given the time (ms into the
 * run), so a test moves time by hand. Irrigation runs on real (run) time, not simulated time: the
 * valve is open for the command's seconds whatever `timeScale` is, as the server expects.
 * @module
 */

/** Moisture points an open valve adds per second: 1.5 per 10 s. */
export const RISE_PER_S = 0.15;
/**
 * Least rise of any irrigation, points (a 1 s one too): several times the reading noise
 * (σ 0.15), so even the shortest irrigation shows in the published readings.
 */
export const MIN_RISE = 1;
/**
 * Soil holds no more water than this, percent: water beyond it drains away. Well below the
 * protocol's 100 once the sensor noise is added, and above what the model reaches by itself
 * (at most 85): only irrigation after irrigation fills the soil up to it.
 */
export const SATURATION = 95;

/** Points an irrigation of `durationMs` adds in all (before saturation). */
export function plannedRise(durationMs: number): number {
  return Math.max(MIN_RISE, (RISE_PER_S * durationMs) / 1_000);
}

/** `moisture` with `water` points added, up to {@link SATURATION} (never lowered by it). */
export function wetted(moisture: number, water: number): number {
  return Math.max(moisture, Math.min(SATURATION, moisture + water));
}

/** One station's valve, open from `startMs` to `endMs` (ms into the run). */
export interface ValveRun {
  /** The command's id. */
  readonly id: string;
  readonly sensorId: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Points added over the whole run, spread evenly over it (0: a stuck valve). */
  readonly rise: number;
  /** True soil moisture when the valve opened, percent. */
  readonly before: number;
}

/** Options of {@link Valves.open}. */
export interface OpenOptions {
  id: string;
  /** When it opens, ms into the run. */
  atMs: number;
  durationMs: number;
  /** Points to add; default {@link plannedRise} of the duration. */
  rise?: number | undefined;
  /** True soil moisture now, percent (for the before → after of the `done` ack). */
  moisture: number;
}

/** The valves of a run's stations: which are open, and the water they have given so far. */
export class Valves {
  readonly #runs = new Map<string, { run: ValveRun; given: number }>();

  /** Opens `sensorId`'s valve; throws `RangeError` when it is open already (ask {@link run}). */
  open(sensorId: string, options: OpenOptions): ValveRun {
    if (this.#runs.has(sensorId)) throw new RangeError(`the valve of ${sensorId} is open already`);
    const run: ValveRun = {
      id: options.id,
      sensorId,
      startMs: options.atMs,
      endMs: options.atMs + options.durationMs,
      rise: options.rise ?? plannedRise(options.durationMs),
      before: options.moisture,
    };
    this.#runs.set(sensorId, { run, given: 0 });
    return run;
  }

  /** The open valve of `sensorId`, if any (until {@link close}, even past its end). */
  run(sensorId: string): ValveRun | undefined {
    return this.#runs.get(sensorId)?.run;
  }

  /** Stations with an open valve, sorted. */
  get irrigating(): string[] {
    return [...this.#runs.keys()].sort();
  }

  /**
   * Water due to `sensorId` from its valve up to `atMs` and not handed out before, points. The
   * rise comes in evenly over the valve's time; nothing after its end, nothing twice.
   */
  water(sensorId: string, atMs: number): number {
    const entry = this.#runs.get(sensorId);
    if (!entry) return 0;
    const { run } = entry;
    const span = run.endMs - run.startMs;
    const share = span > 0 ? Math.min(1, Math.max(0, (atMs - run.startMs) / span)) : 1;
    const due = run.rise * share;
    const water = Math.max(0, due - entry.given);
    entry.given = Math.max(entry.given, due);
    return water;
  }

  /** Closes `sensorId`'s valve (take its last {@link water} first); returns its run. */
  close(sensorId: string): ValveRun | undefined {
    const run = this.#runs.get(sensorId)?.run;
    this.#runs.delete(sensorId);
    return run;
  }
}
