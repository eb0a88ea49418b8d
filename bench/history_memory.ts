/**
 * Memory and speed of the history store at full load: `sensors` × `perSensor` readings (default
 * 10,000 × 3,600: one hour at one reading a second), with the simulator's values. Prints bytes
 * per stored reading as the store counts them (`stats().bytes`) and as the process grew (RSS,
 * and V8 heap + external memory), the fill time, and the time of a one-hour query of one sensor
 * and of every sensor, as objects (`query`) and as JSON (`json`).
 *
 *     deno run --v8-flags=--expose-gc,--max-old-space-size=4096 \
 *       bench/history_memory.ts [sensors] [perSensor]
 *
 * Without `--expose-gc` the growth figures include garbage not yet collected.
 * @module
 */
import { HistoryStore, type StoredReading } from "../server/history.ts";
import { initialState, nextReading, type SensorState } from "../sim/sensors.ts";
import { createRandom } from "../sim/random.ts";
import { write } from "./bench_procs.ts";

const HOUR_MS = 3_600_000;
/** Late morning UTC, so light and temperature move. */
const START = Date.UTC(2025, 5, 1, 10);

const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { rss: number; v8: number } {
  gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss, v8: m.heapUsed + m.external };
}

const ms = (t: number) => `${t.toFixed(1)} ms`;
const perReading = (bytes: number, readings: number) => `${(bytes / readings).toFixed(1)} B`;

/** Median time of `runs` calls of `fn`, ms. */
function median(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

function run(sensors: number, perSensor: number): void {
  let now = START;
  const ids = Array.from({ length: sensors }, (_, i) => `S${String(i).padStart(5, "0")}`);
  const random = createRandom(1);
  let states: SensorState[] = ids.map((id) => initialState(id, random, START));
  const before = memory();
  const store = new HistoryStore({ windowMs: HOUR_MS, maxPerSensor: perSensor, now: () => now });
  store.linkUp(START);

  // Values are made a second's worth at a time and only the adds are timed.
  let fillMs = 0;
  let makeMs = 0;
  const batch: StoredReading[] = new Array(sensors);
  for (let s = 0; s < perSensor; s++) {
    now = START + s * 1_000;
    let t = performance.now();
    for (let i = 0; i < sensors; i++) {
      const next = nextReading(states[i]!, now, random);
      states[i] = next.state;
      batch[i] = { at: now, ...next.values };
    }
    makeMs += performance.now() - t;
    t = performance.now();
    for (let i = 0; i < sensors; i++) store.add(ids[i]!, batch[i]!);
    fillMs += performance.now() - t;
  }
  batch.fill(undefined as unknown as StoredReading);
  states = [];
  const after = memory();
  const { readings, bytes } = store.stats();

  const since = now - HOUR_MS;
  const one = ids[0]!;
  const oneQuery = median(21, () => store.query(one, { since }));
  const oneJson = median(21, () => store.json(one, { since }));
  const jsonBytes = store.json(one, { since }).readings.length;
  // The obvious way, for comparison: objects, then the protocol's shape, then JSON.stringify.
  const oneObvious = median(21, () =>
    JSON.stringify(
      store.query(one, { since }).readings.map(({ at, ...values }) => ({
        ...values,
        timestamp: new Date(at).toISOString(),
      })),
    ));
  let t = performance.now();
  let returned = 0;
  for (const id of ids) returned += store.query(id, { since }).readings.length;
  const allQuery = performance.now() - t;
  t = performance.now();
  let chars = 0;
  for (const id of ids) chars += store.json(id, { since }).readings.length;
  const allJson = performance.now() - t;

  write(
    `\n${sensors} sensors × ${perSensor} readings = ${readings} stored ` +
      `(${returned} returned by the all-sensor query)\n` +
      `  bytes/reading, stats().bytes / readings:     ${perReading(bytes, readings)} ` +
      `(${(bytes / 2 ** 20).toFixed(0)} MiB)\n` +
      `  bytes/reading, RSS growth / readings:        ${
        perReading(after.rss - before.rss, readings)
      } (${((after.rss - before.rss) / 2 ** 20).toFixed(0)} MiB)\n` +
      `  bytes/reading, heap+external growth / read.: ${
        perReading(after.v8 - before.v8, readings)
      }${gc ? "" : " (no --expose-gc: includes uncollected garbage)"}\n` +
      `  fill: ${ms(fillMs)} (${(fillMs * 1e6 / readings).toFixed(0)} ns/add; ` +
      `making the values: ${ms(makeMs)})\n` +
      `  1 h of one sensor:  query ${ms(oneQuery)}, json ${ms(oneJson)} (${jsonBytes} chars); ` +
      `query + toISOString + JSON.stringify ${ms(oneObvious)}\n` +
      `  1 h of all sensors: query ${ms(allQuery)}, json ${ms(allJson)} ` +
      `(${(chars / 2 ** 20).toFixed(0)} MiB of JSON, one sensor at a time)\n`,
  );
}

if (import.meta.main) {
  const [sensors = 10_000, perSensor = 3_600] = Deno.args.map(Number);
  const cpu = navigator.hardwareConcurrency;
  write(`Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${cpu} cores\n`);
  run(sensors, perSensor);
}
