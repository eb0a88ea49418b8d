/**
 * The life of one command as its sender sees it, apart from sockets and timers: which
 * `command_status` messages are about it and move it forward, how long to wait for the next
 * state, and each state in words. The server reports `timeout` itself when the device stays
 * silent; the patience here is the client's own cap on top of that, for a server that goes
 * quiet.
 * @module
 */
import { clipForLog, escapeControl } from "../lib/sanitize.ts";
import type { CommandStatus, ServerMessage } from "../protocol/mod.ts";

/** The `data` of a `command_status` message. */
export type CommandStatusData = Extract<ServerMessage, { type: "command_status" }>["data"];

/** The states after which nothing more comes. */
export type FinalStatus = Extract<CommandStatus, "rejected" | "done" | "failed" | "timeout">;

/**
 * How long the client waits beyond what the server promises, ms: after `sent` for `accepted`,
 * and after `accepted` beyond the run time for the end.
 */
export const COMMAND_MARGIN_MS = 60_000;

/** Order of the states: a message that does not move the command forward is a repeat. */
const STEP: Record<CommandStatus, number> = {
  sent: 1,
  accepted: 2,
  rejected: 3,
  done: 3,
  failed: 3,
  timeout: 3,
};

/** Options of {@link CommandLife.patienceMs}. */
export interface Patience {
  /** For the server's first answer (`sent` or `rejected`), ms. */
  answerMs: number;
  /** How long the device runs the command once it accepted it, ms. */
  runsMs: number;
  /** What the client adds to what the server promises, ms. */
  marginMs: number;
}

/** One command's states, as its `command_status` messages report them. */
export class CommandLife {
  readonly #id: string;
  readonly #sensorId: string;
  #last: CommandStatus | undefined;

  /** Follows the command `id` sent to `sensorId`. */
  constructor(id: string, sensorId: string) {
    this.#id = id;
    this.#sensorId = sensorId;
  }

  /** The latest state; `undefined` before the server answered. */
  get last(): CommandStatus | undefined {
    return this.#last;
  }

  /** The final state once there is one. */
  get final(): FinalStatus | undefined {
    return this.#last !== undefined && STEP[this.#last] === 3
      ? this.#last as FinalStatus
      : undefined;
  }

  /**
   * Takes a server message; true when it is a `command_status` of this command that moves it
   * forward (repeats, other commands and once it ended: false).
   */
  take(msg: ServerMessage): msg is Extract<ServerMessage, { type: "command_status" }> {
    if (msg.type !== "command_status" || this.final !== undefined) return false;
    const { id, sensor_id, status } = msg.data;
    if (id !== this.#id || sensor_id !== this.#sensorId) return false;
    if (this.#last !== undefined && STEP[status] <= STEP[this.#last]) return false;
    this.#last = status;
    return true;
  }

  /** How long to wait for the next state after the latest one, ms. */
  patienceMs(p: Patience): number {
    if (this.#last === undefined) return p.answerMs;
    if (this.#last === "accepted") return p.runsMs + p.marginMs;
    return p.marginMs;
  }

  /** Why waiting stopped after `ms` without a word, for the user. */
  silence(ms: number): string {
    const s = seconds(ms);
    if (this.#last === undefined) {
      return `no answer to the command within ${s} (is the server older than commands?)`;
    }
    return `no word from the server within ${s} after '${this.#last}'`;
  }
}

/** `90s`, `0.3s`. */
function seconds(ms: number): string {
  const s = ms / 1_000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}

/**
 * A state as one line of text: `sent`, `rejected: <reason>`, `done: <detail>`. What the server
 * and the device said is clipped and its control characters escaped.
 */
export function formatStatus(data: CommandStatusData): string {
  const said = data.reason ?? data.detail;
  return said === undefined ? data.status : `${data.status}: ${escapeControl(clipForLog(said))}`;
}

/** A random command id: 8 hex digits. */
export function randomCommandId(
  fill: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  return Array.from(fill(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
}
