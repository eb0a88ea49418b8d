/**
 * A simulator run's progress: the broker link's state, the counts of published, invalid
 * and failed messages and of the commands answered, reported to the caller on every change and
 * summed up at the end.
 * @module
 */
import type { SimMessage } from "./payloads.ts";

/** What became of the commands the stations received. */
export interface CommandCounts {
  /** Messages on the stations' command topics, malformed ones included. */
  received: number;
  /** Acked `accepted` (their valve opened). */
  accepted: number;
  /** Acked `done`. */
  done: number;
  /** Acked `failed` (refused, valve stuck, or stopped with the run). */
  failed: number;
  /** Received and deliberately not answered (`silent`, an outage, a repeated id). */
  unanswered: number;
  /** Not a command (no JSON object with an id, or too large): nothing to answer. */
  malformed: number;
}

/** One of the {@link CommandCounts}. */
export type CommandOutcome = keyof CommandCounts;

/** State of the link to the broker. */
export type BrokerState = "connecting" | "connected" | "reconnecting";

/** Progress, reported on every change. */
export interface SimulatorStatus {
  /** The link to the broker. */
  broker: BrokerState;
  /** Messages the broker took (QoS 1) or that were written to it (QoS 0), invalid included. */
  published: number;
  /** How many of `published` were deliberately malformed. */
  invalid: number;
  /** Messages lost to a dropped connection. */
  failed: number;
  /** Time since the broker first accepted the connection, ms. */
  elapsedMs: number;
  /** Simulated time of the latest reading, ms since the epoch. */
  simulatedTime?: number | undefined;
  /** Sensors in a planned outage now (publishing nothing), sorted. */
  silent: readonly string[];
  /** Sensors with an open valve now (irrigating on command), sorted. */
  irrigating: readonly string[];
  /** The commands received so far and what became of them. */
  commands: Readonly<CommandCounts>;
}

/** Totals of a finished run. */
export interface SimulatorSummary {
  /** Messages the broker took, invalid included (as in {@link SimulatorStatus}). */
  published: number;
  /** How many of `published` were deliberately malformed. */
  invalid: number;
  /** Messages lost to a dropped connection. */
  failed: number;
  /** Time from the first connect to the end of the run, ms. */
  elapsedMs: number;
  /** Seed used, so the run can be replayed. */
  seed: number;
  /** The commands received and what became of them. */
  commands: Readonly<CommandCounts>;
}

/** Keeps a run's status and reports a copy of it to `onStatus` on every change. */
export class Progress {
  readonly #seed: number;
  readonly #onStatus: ((status: SimulatorStatus) => void) | undefined;
  readonly #status: SimulatorStatus = {
    broker: "connecting",
    published: 0,
    invalid: 0,
    failed: 0,
    elapsedMs: 0,
    silent: [],
    irrigating: [],
    commands: { received: 0, accepted: 0, done: 0, failed: 0, unanswered: 0, malformed: 0 },
  };

  /** Progress of a run with `seed`. */
  constructor(seed: number, onStatus?: (status: SimulatorStatus) => void) {
    this.#seed = seed;
    this.#onStatus = onStatus;
  }

  /** Reports the status as it is. */
  report(): void {
    this.#onStatus?.({ ...this.#status });
  }

  /** The broker link changed. */
  broker(state: BrokerState): void {
    this.#status.broker = state;
    this.report();
  }

  /** A message with timestamp `stamp` is being published (reported with its outcome). */
  publishing(stamp: number): void {
    this.#status.simulatedTime = stamp;
  }

  /** A message was taken by the broker, or failed; `elapsedMs` since the run started. */
  settled(message: SimMessage, failed: boolean, elapsedMs: number): void {
    const s = this.#status;
    if (failed) s.failed++;
    else {
      s.published++;
      if (message.invalid) s.invalid++;
    }
    s.elapsedMs = elapsedMs;
    this.report();
  }

  /** `sensorId` went silent for a planned outage, or publishes again. */
  outage(sensorId: string, silent: boolean): void {
    const others = this.#status.silent.filter((id) => id !== sensorId);
    this.#status.silent = silent ? [...others, sensorId].sort() : others;
    this.report();
  }

  /** One more command had `outcome` (a new counts object: reports already made keep theirs). */
  command(outcome: CommandOutcome): void {
    this.#status.commands = {
      ...this.#status.commands,
      [outcome]: this.#status.commands[outcome] + 1,
    };
    this.report();
  }

  /** The stations irrigating now changed. */
  irrigating(sensorIds: readonly string[]): void {
    this.#status.irrigating = [...sensorIds].sort();
    this.report();
  }

  /** The run ended `elapsedMs` after it started. */
  finished(elapsedMs: number): void {
    this.#status.elapsedMs = elapsedMs;
    this.report();
  }

  /** The totals so far. */
  summary(): SimulatorSummary {
    const { published, invalid, failed, elapsedMs, commands } = this.#status;
    return { published, invalid, failed, elapsedMs, seed: this.#seed, commands: { ...commands } };
  }
}
