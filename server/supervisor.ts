/**
 * The supervisor of `serve --workers`: starts the workers, watches them (a worker that errs,
 * fails, stops on its own or stops answering is gone), restarts a gone one with backoff, merges
 * their metrics every second and hands the text back down to all of them, and stops them.
 * `workers.ts` sets it up; `worker_slot.ts` holds one worker.
 * @module
 */
import type { Logger, LogLevel } from "../lib/log.ts";
import type { ServerOptions } from "./config.ts";
import { Metrics } from "./metrics.ts";
import { MetricsMerge } from "./metrics_merge.ts";
import type { FromWorker } from "./worker_protocol.ts";
import { WorkerSlot } from "./worker_slot.ts";

/** How often the workers report their metrics (and show they are alive), ms. */
const REPORT_MS = 1_000;
/** A worker that has not answered for this long is stuck: it is replaced, ms. */
const STUCK_MS = 30_000;
/** How long shutdown waits for the workers to stop before ending them, ms. */
const STOP_GRACE_MS = 4_500;

/** What the supervisor needs. */
export interface SupervisorOptions {
  count: number;
  optionsOf: (index: number) => ServerOptions;
  logger: Logger;
  logLevel: LogLevel;
  workerUrl: URL;
  restartMs: { min: number; max: number };
}

/** Starts, watches, restarts and stops the workers, and merges their metrics. */
export class Supervisor {
  /** How many workers there are. */
  readonly count: number;
  /** Workers restarted (and serving again) so far. */
  restarts = 0;
  readonly #o: SupervisorOptions;
  readonly #slots: WorkerSlot[];
  readonly #merge = new MetricsMerge();
  /** The supervisor's own registry: the process-wide figures (CPU, memory, start time). */
  readonly #own = new Metrics();
  #tick: ReturnType<typeof setInterval> | undefined;
  /** The last merged exposition handed to the workers. */
  #text: string | undefined;
  #started = false;
  #stopping = false;

  /** Prepares a slot per worker; {@link Supervisor.start} starts them. */
  constructor(o: SupervisorOptions) {
    this.#o = o;
    this.count = o.count;
    this.#slots = Array.from({ length: o.count }, (_, index) =>
      new WorkerSlot(index, {
        url: o.workerUrl,
        start: () => ({
          type: "start",
          index,
          options: o.optionsOf(index),
          logLevel: o.logLevel,
          // A successor serves the merged figures from its first scrape on.
          metrics: this.#text,
        }),
        onMessage: (m) => this.#onMessage(index, m),
        onGone: (why, lived) => this.#onGone(index, why, lived),
      }));
  }

  /** Starts every worker; rejects with the first one's failure. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.spawn()));
    this.#started = true;
    this.#tick = setInterval(() => this.#round(), REPORT_MS);
    this.#round();
  }

  /** Open sockets of every worker, as last reported. */
  sockets(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.sockets, 0);
  }

  /** The merged exposition now. */
  render(): string {
    return this.#merge.render(this.#own.render());
  }

  /** Tells every worker to stop (after its drain delay when `drain`); ends the stragglers. */
  async stop(drain: boolean): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#tick);
    await Promise.all(this.#slots.map((slot) => slot.stop(drain, STOP_GRACE_MS)));
  }

  /** A drain in progress ends now (a second Ctrl-C). */
  endDrain(): void {
    for (const slot of this.#slots) slot.send({ type: "shutdown", drain: false });
  }

  /** Asks for reports; when all are in (or at the next round), merges and hands the text down. */
  #round(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (slot.listening && now - slot.heardAt > STUCK_MS) {
        slot.end(`no answer for ${STUCK_MS / 1000} s`);
      }
    }
    if (this.#slots.some((slot) => slot.awaitingReport)) this.#share();
    for (const slot of this.#slots) slot.askReport();
  }

  #share(): void {
    const text = this.#text = this.render();
    for (const slot of this.#slots) slot.send({ type: "metrics", text });
  }

  #onMessage(index: number, m: FromWorker): void {
    const { logger } = this.#o;
    switch (m.type) {
      case "report":
        this.#merge.report(index, m.text);
        if (!this.#slots.some((slot) => slot.awaitingReport)) this.#share();
        break;
      case "log":
        logger[m.level](m.event, { worker: index, ...m.fields });
        break;
    }
  }

  /** A worker is gone: its counts are carried over; unless stopping, it is started again. */
  #onGone(index: number, why: string | undefined, livedMs: number): void {
    this.#merge.retire(index);
    // While starting, a failure fails the start instead.
    if (this.#stopping || !this.#started) return;
    const slot = this.#slots[index]!;
    const { min, max } = this.#o.restartMs;
    // Quick deaths in a row back off; a worker that ran a while starts over from the shortest.
    slot.failures = livedMs >= 10 * max ? 0 : slot.failures + 1;
    const delay = Math.min(max, min * 2 ** Math.max(0, slot.failures - 1));
    this.#o.logger.warn("worker stopped; restarting it", {
      worker: index,
      reason: why ?? "stopped",
      restartInMs: delay,
    });
    slot.restartAfter(delay, () => {
      this.restarts++;
      this.#o.logger.info("worker restarted", { worker: index, restarts: this.restarts });
    });
  }
}
