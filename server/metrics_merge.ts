/**
 * `/metrics` of `serve --workers`: every worker's figures in one exposition, each series labelled
 * `worker="<index>"`, so a scrape that lands on any worker sees all of them. Counters stay
 * monotonic when a worker is restarted: what a dead worker had counted (its last report) is
 * carried into its successor's series. The figures of the whole process (CPU, resident memory,
 * start time) are shown once, unlabelled, as the supervisor reads them.
 *
 * Pure: reports in, text out. `workers.ts` feeds it and passes the text to the workers.
 * @module
 */

/**
 * Families that describe the process, not a worker: every worker would report the same process
 * (a Web Worker shares its process), so they come from the supervisor's own reading, unlabelled.
 * (`process_heap_bytes` is per worker: each worker has its own JavaScript heap.)
 */
export const PROCESS_WIDE: ReadonlySet<string> = new Set([
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "process_start_time_seconds",
]);

/** The label that tells the workers apart. */
export const WORKER_LABEL = "worker";

/** One metric family of an exposition. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  /** Sample lines split into series (`name{labels}`) and value, in their order. */
  readonly samples: ReadonlyArray<readonly [series: string, value: number]>;
}

/** Parses the Prometheus text format as `Registry.render()` writes it. */
export function parseExposition(text: string): Family[] {
  const families: Family[] = [];
  let help = new Map<string, string>();
  let current: { name: string; help: string; type: string; samples: [string, number][] } | null =
    null;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7);
      const space = rest.indexOf(" ");
      help.set(rest.slice(0, space), rest.slice(space + 1));
    } else if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ") as [string, string];
      current = { name, help: help.get(name) ?? "", type, samples: [] };
      families.push(current);
      help = new Map();
    } else if (!line.startsWith("#") && current) {
      // The value follows the last space: label values may hold spaces ("server shutting down").
      const space = line.lastIndexOf(" ");
      current.samples.push([line.slice(0, space), Number(line.slice(space + 1))]);
    }
  }
  return families;
}

/** `name{labels}` with `worker="<index>"` first among its labels. */
export function withWorker(series: string, worker: number): string {
  const label = `${WORKER_LABEL}="${worker}"`;
  const brace = series.indexOf("{");
  return brace < 0
    ? `${series}{${label}}`
    : `${series.slice(0, brace + 1)}${label},${series.slice(brace + 1)}`;
}

const monotonic = (type: string) => type === "counter" || type === "histogram";

/**
 * The merged view. Feed it each worker's latest report, {@link MetricsMerge.retire} a worker
 * whose process is gone, and render.
 */
export class MetricsMerge {
  /** The latest exposition of each running worker, parsed. */
  readonly #reports = new Map<number, Family[]>();
  /** Per worker, what its earlier incarnations counted, by series. */
  readonly #carried = new Map<number, Map<string, number>>();
  /** The highest value rendered for each counter series, so no scrape sees one go down. */
  readonly #shown = new Map<string, number>();
  /** Family declarations in the order first seen (a dead worker's carried counters need them). */
  readonly #declared = new Map<string, Omit<Family, "samples">>();

  /** Records `worker`'s current exposition (`Metrics.render()` of its own registry). */
  report(worker: number, text: string): void {
    const families = parseExposition(text);
    for (const { name, help, type } of families) {
      if (!this.#declared.has(name)) this.#declared.set(name, { name, help, type });
    }
    this.#reports.set(worker, families);
  }

  /**
   * `worker` stopped: what it counted (as of its last report) is carried into its successor's
   * series; its gauges are gone with it.
   */
  retire(worker: number): void {
    const families = this.#reports.get(worker);
    if (!families) return;
    this.#reports.delete(worker);
    const carried = this.#carried.get(worker) ?? new Map<string, number>();
    for (const family of families) {
      if (!monotonic(family.type)) continue;
      for (const [series, value] of family.samples) {
        carried.set(series, (carried.get(series) ?? 0) + value);
      }
    }
    this.#carried.set(worker, carried);
  }

  /** Workers with a report or carried counts, ascending. */
  workers(): number[] {
    return [...new Set([...this.#reports.keys(), ...this.#carried.keys()])].sort((a, b) => a - b);
  }

  /**
   * The exposition: every family in declaration order; a worker's series labelled with it;
   * {@link PROCESS_WIDE} families from `own` (the supervisor's own `Metrics.render()`).
   */
  render(own: string): string {
    const ownFamilies = new Map(parseExposition(own).map((f) => [f.name, f]));
    for (const { name, help, type } of ownFamilies.values()) {
      if (!this.#declared.has(name)) this.#declared.set(name, { name, help, type });
    }
    const out: string[] = [];
    for (const family of this.#declared.values()) {
      out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      if (PROCESS_WIDE.has(family.name)) {
        for (const [series, value] of ownFamilies.get(family.name)?.samples ?? []) {
          out.push(`${series} ${this.#monotone(family.type, series, value)}`);
        }
        continue;
      }
      for (const worker of this.workers()) {
        for (const [series, value] of this.#seriesOf(worker, family)) {
          const labelled = withWorker(series, worker);
          out.push(`${labelled} ${this.#monotone(family.type, labelled, value)}`);
        }
      }
    }
    return out.join("\n") + "\n";
  }

  /** A worker's samples of one family: its report plus carried counts, or carried counts alone. */
  #seriesOf(worker: number, family: Omit<Family, "samples">): Array<readonly [string, number]> {
    const carried = monotonic(family.type) ? this.#carried.get(worker) : undefined;
    const reported = this.#reports.get(worker)?.find((f) => f.name === family.name);
    if (reported) {
      return reported.samples.map((
        [series, value],
      ) => [series, value + (carried?.get(series) ?? 0)]);
    }
    if (!carried) return [];
    return [...carried].filter(([series]) => seriesOf(series, family.name));
  }

  #monotone(type: string, series: string, value: number): number {
    if (!monotonic(type)) return value;
    const shown = Math.max(value, this.#shown.get(series) ?? -Infinity);
    this.#shown.set(series, shown);
    return shown;
  }
}

/** Whether a series belongs to the family `name` (a histogram's are `name_bucket`, …). */
function seriesOf(series: string, name: string): boolean {
  const base = series.includes("{") ? series.slice(0, series.indexOf("{")) : series;
  return base === name || [`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(base);
}
