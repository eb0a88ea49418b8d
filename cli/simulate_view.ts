/**
 * `simulate`'s progress output: a live one-line status on a terminal, plain summary lines
 * otherwise. Each command's acks are log lines of their own (the simulator logs them).
 * @module
 */
import type { Logger, LogLevel } from "../lib/log.ts";
import type { CommandCounts, SimulatorStatus, SimulatorSummary } from "../sim/mod.ts";
import type { CliIo } from "./io.ts";

/** Plain progress lines when stdout is not a terminal, ms. */
const SUMMARY_EVERY_MS = 10_000;
/** Live status redraws on a terminal, ms. */
const REDRAW_EVERY_MS = 250;

/**
 * `published 20 (3 invalid) in 1.2 s` (+ lost messages, when any), and what became of the
 * commands when there were any: `; commands: 3 received, 1 done, 2 failed`.
 */
export function summaryText(s: SimulatorStatus | SimulatorSummary): string {
  const extra = [`${s.invalid} invalid`, ...(s.failed > 0 ? [`${s.failed} lost`] : [])];
  const commands = s.commands.received > 0 ? `; ${commandsText(s.commands)}` : "";
  return `published ${s.published} (${extra.join(", ")}) in ` +
    `${(s.elapsedMs / 1000).toFixed(1)} s${commands}`;
}

/** `commands: 3 received, 1 done, 2 failed` (outcomes that did not happen left out). */
export function commandsText(c: Readonly<CommandCounts>): string {
  const outcomes = (["accepted", "done", "failed", "unanswered", "malformed"] as const)
    .filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
  return `commands: ${[`${c.received} received`, ...outcomes].join(", ")}`;
}

/** Live `\r` status line on a terminal; a summary log line every 10 s otherwise. */
export class ProgressView {
  logger: Logger | undefined;
  readonly #io: CliIo;
  #live: boolean;
  /** Show the simulated time (when it differs from the wall clock). */
  readonly #showClock: boolean;
  #status: SimulatorStatus | undefined;
  #drawn = false;
  #samples: Array<{ at: number; published: number }> = [];
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(io: CliIo, options: { quiet: boolean; showClock: boolean }) {
    const quiet = options.quiet;
    this.#io = io;
    this.#showClock = options.showClock;
    this.#live = io.isTerminal && !quiet;
    // The first rate is measured from here, not from the first report.
    this.#samples.push({ at: performance.now(), published: 0 });
    if (this.#live) this.#timer = setInterval(() => this.#draw(), REDRAW_EVERY_MS);
    else if (!quiet) {
      this.#timer = setInterval(() => {
        if (this.#status?.broker === "connected") {
          this.logger?.info(summaryText(this.#status), {
            rate: `${this.#measureRate(SUMMARY_EVERY_MS)}/s`,
          });
        }
      }, SUMMARY_EVERY_MS);
    }
  }

  /**
   * Takes the latest status; redraws at once when the broker state, the silent set or the
   * irrigating set changed.
   */
  update(status: SimulatorStatus): void {
    const changed = status.broker !== this.#status?.broker ||
      status.silent !== this.#status?.silent || status.irrigating !== this.#status?.irrigating;
    this.#status = status;
    if (changed) this.#draw();
  }

  /** Writes a log line (to stderr) without tearing the live line. */
  log(line: string, _level: LogLevel): void {
    this.#clear();
    this.#io.stderr(line + "\n");
    this.#draw();
  }

  /** Stops redrawing and clears the live line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#clear();
    this.#live = false;
  }

  /** Messages per second over about the last `windowMs`. */
  #measureRate(windowMs: number): string {
    const at = performance.now();
    const published = this.#status?.published ?? 0;
    this.#samples.push({ at, published });
    // Keep the newest sample that is at least a window old as the anchor.
    while (this.#samples.length > 2 && at - this.#samples[1]!.at >= windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const rate = at > first.at ? ((published - first.published) * 1_000) / (at - first.at) : 0;
    return rate.toFixed(1);
  }

  #draw(): void {
    if (!this.#live || !this.#status) return;
    const s = this.#status;
    const rate = this.#measureRate(1_000);
    const clock = this.#showClock && s.simulatedTime !== undefined
      ? `  sim ${new Date(s.simulatedTime).toISOString().slice(0, 16).replace("T", " ")}Z`
      : "";
    const silent = s.silent.length > 0 ? `  silent: ${s.silent.join(",")}` : "";
    const irrigating = s.irrigating.length > 0 ? `  irrigating: ${s.irrigating.join(",")}` : "";
    const line = `published ${s.published} (${s.invalid} invalid)  ${rate} msg/s  ` +
      `broker: ${s.broker}${silent}${irrigating}${clock}`;
    this.#io.stdout(`\r\x1b[K${line.slice(0, (this.#io.columns ?? 200) - 1)}`);
    this.#drawn = true;
  }

  #clear(): void {
    if (!this.#drawn) return;
    this.#io.stdout("\r\x1b[K");
    this.#drawn = false;
  }
}
