/**
 * A small Prometheus registry: a metric is one declaration (name, help, type, and for a labelled
 * counter its label and the fixed set of values it takes); rendering the text format is generic.
 * Updates are plain number writes on the hot path; text is built only when scraped.
 *
 * (npm:prom-client was evaluated: it runs under `--allow-net --allow-env`, but its process
 * metrics need /proc, which Deno opens only with `--allow-all`, so it reports zeros for memory
 * and open files, and it adds three dependencies. The few process metrics that can be measured
 * truthfully are declared here instead.)
 * @module
 */

/** What the registry needs of a metric. */
export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** Sample lines (`name{labels} value`). */
  samples(): string[];
}

/** A counter without labels. */
export class Counter implements Metric {
  readonly type = "counter";
  /** The count. */
  value = 0;
  /** Declares a counter. */
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `n` (default 1). */
  inc(n = 1): void {
    this.value += n;
  }
  /** One sample. */
  samples(): string[] {
    return [`${this.name} ${this.value}`];
  }
}

/**
 * A counter split by one label whose values come from a fixed set, so no peer can make the
 * series grow: a value outside the set is counted as `other`. Every value is exported, zeros too.
 */
export class LabeledCounter<V extends string = string> implements Metric {
  readonly type = "counter";
  readonly #counts = new Map<string, number>();

  /** Declares the counter with its label name and the values it may take. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    values: readonly V[],
  ) {
    for (const v of values) this.#counts.set(v, 0);
    this.#counts.set("other", 0);
  }

  /** Adds `n` (default 1) to `value`'s count (`other` when it is not one of the set). */
  inc(value: V | string, n = 1): void {
    const key = this.#counts.has(value) ? value : "other";
    this.#counts.set(key, this.#counts.get(key)! + n);
  }

  /** The count for `value`. */
  get(value: V | string): number {
    return this.#counts.get(value) ?? 0;
  }

  /** One sample per value. */
  samples(): string[] {
    return [...this.#counts].map(([v, n]) => `${this.name}{${this.label}="${escape(v)}"} ${n}`);
  }
}

/**
 * A counter split by two labels, each over a fixed set of values (`other` outside it), so the
 * series stay a fixed grid whatever peers send. Every pair is exported, zeros too.
 */
export class GridCounter<A extends string = string, B extends string = string> implements Metric {
  readonly type = "counter";
  readonly #counts = new Map<string, number>();
  readonly #a: ReadonlySet<string>;
  readonly #b: ReadonlySet<string>;

  /** Declares the counter with its two labels and the values each may take. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly [a: string, b: string],
    values: readonly [a: readonly A[], b: readonly B[]],
  ) {
    this.#a = new Set([...values[0], "other"]);
    this.#b = new Set([...values[1], "other"]);
    for (const a of this.#a) for (const b of this.#b) this.#counts.set(keyOf(a, b), 0);
  }

  /** Adds `n` (default 1) to the pair's count. */
  inc(a: A | string, b: B | string, n = 1): void {
    const key = keyOf(this.#a.has(a) ? a : "other", this.#b.has(b) ? b : "other");
    this.#counts.set(key, this.#counts.get(key)! + n);
  }

  /** The count for a pair. */
  get(a: A | string, b: B | string): number {
    return this.#counts.get(keyOf(a, b)) ?? 0;
  }

  /** One sample per pair. */
  samples(): string[] {
    const [la, lb] = this.labels;
    return [...this.#counts].map(([key, n]) => {
      const [a, b] = key.split("\n") as [string, string];
      return `${this.name}{${la}="${escape(a)}",${lb}="${escape(b)}"} ${n}`;
    });
  }
}

function keyOf(a: string, b: string): string {
  return `${a}\n${b}`;
}

/**
 * A value read at scrape time: a gauge, or a counter whose total is kept elsewhere (CPU time).
 */
export class Sampled implements Metric {
  /** Declares the metric, read by `read` when scraped. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number,
    readonly type: "gauge" | "counter" = "gauge",
  ) {}
  /** One sample. */
  samples(): string[] {
    return [`${this.name} ${this.read()}`];
  }
}

/** Gauges with one label over a fixed set of values, read at scrape time. */
export class SampledLabeled<V extends string = string> implements Metric {
  readonly type = "gauge";
  /** Declares the gauge; `read` returns a value for each of `values`. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    readonly values: readonly V[],
    readonly read: () => Record<V, number>,
  ) {}
  /** One sample per value. */
  samples(): string[] {
    const now = this.read();
    return this.values.map((v) => `${this.name}{${this.label}="${escape(v)}"} ${now[v]}`);
  }
}

/** A fixed-bucket histogram. */
export class Histogram implements Metric {
  readonly type = "histogram";
  readonly #counts: number[];
  /** Observations. */
  count = 0;
  /** Their sum. */
  sum = 0;

  /** Declares the histogram with its upper bucket bounds, ascending. */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.#counts = buckets.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    this.count++;
    this.sum += value;
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) this.#counts[i]!++;
  }

  /** Cumulative buckets, then sum and count. */
  samples(): string[] {
    let cumulative = 0;
    const lines = this.buckets.map((b, i) => {
      cumulative += this.#counts[i]!;
      return `${this.name}_bucket{le="${b}"} ${cumulative}`;
    });
    lines.push(
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    );
    return lines;
  }
}

/** The metrics of one process, in declaration order. */
export class Registry {
  readonly #metrics: Metric[] = [];

  /** Adds a metric and returns it, so a declaration is one expression. */
  add<M extends Metric>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new TypeError(`metric ${metric.name} is declared twice`);
    }
    this.#metrics.push(metric);
    return metric;
  }

  /** Names of every metric. */
  names(): string[] {
    return this.#metrics.map((m) => m.name);
  }

  /** The Prometheus text exposition (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const m of this.#metrics) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.samples());
    }
    return out.join("\n") + "\n";
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
