/** Shared for the history store's tests: a start time, tagged readings and a store on a fake clock. */
import { HistoryStore, type StoredReading } from "../server/history.ts";
import { FakeClock } from "./_fake_clock.ts";

export const T0 = Date.UTC(2025, 0, 1);
export const HOUR = 3_600_000;

/** A reading at `at` whose moisture `n` tells readings apart. */
export function reading(at: number, n = 0): StoredReading {
  return { at, moisture: n, temperature: 20.5, humidity: 55, light: 1_000 };
}

/** A store on a fake clock at T0 with the link up since long before. */
export function setup(
  options: { windowMs?: number; maxPerSensor?: number } = {},
): { clock: FakeClock; store: HistoryStore } {
  const clock = new FakeClock(T0);
  const store = new HistoryStore({
    windowMs: options.windowMs ?? HOUR,
    maxPerSensor: options.maxPerSensor ?? 3_600,
    now: () => clock.now(),
  });
  store.linkUp(T0 - 2 * HOUR);
  return { clock, store };
}

/** The `moisture` tags of a query's readings, in reply order. */
export const tags = (
  store: HistoryStore,
  id: string,
  options: Parameters<HistoryStore["query"]>[1],
): number[] => store.query(id, options).readings.map((r) => r.moisture);
