/**
 * What `tail` knows of one station's valve, from the `command_event`s it receives (and the
 * `command_status` of a command its own connection sent): the irrigation going on, and for a
 * while after, how the last one ended; and how the table's VALVE column shows it. Pure: every
 * time is passed in.
 *
 * `command_event` does not carry the duration, so a start whose end never comes (the end was
 * sent while tail was disconnected) is dropped after the longest irrigation plus a margin; and a
 * new connection starts clean, since the server does not replay commands.
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import type { CommandEventStatus, CommandStatus } from "../protocol/mod.ts";

/** What a row shows of its valve: a command's state, who sent it, and when tail heard, ms. */
export interface ValveNote {
  /** The command's id, as sent. */
  id: string;
  /** `sent` and `accepted` are under way; the others are outcomes. */
  status: CommandStatus;
  /** The issuing token's `sub`, as sent (untrusted); absent for a `rejected` reply. */
  by: string | undefined;
  /** When tail heard of this state, ms. */
  at: number;
}

/** How long an outcome stays on the row after the command ended, ms. */
export const OUTCOME_SHOWN_MS = 60_000;
/**
 * A command under way that nothing is heard of for this long is dropped, ms: the longest
 * irrigation (3600 s) plus a margin for the device's and the server's timeouts.
 */
export const RUNNING_CAP_MS = 3_600_000 + 10 * 60_000;
/** Commands under way kept per station (the server allows one a few seconds). */
const MAX_RUNNING = 8;

/** True for the states of a command still under way (the valve may be open). */
export function isRunning(status: CommandStatus): boolean {
  return status === "sent" || status === "accepted";
}

/** The valve of one station as tail shows it. */
export class Valve {
  /** Commands under way, by id, oldest first. */
  readonly #running = new Map<string, ValveNote>();
  /** The newest outcome, with when it came. */
  #outcome: ValveNote | undefined;

  /** Takes one `command_event` heard at `now` (ms). */
  event(
    event: { id: string; status: CommandEventStatus; issued_by: string },
    now: number,
  ): void {
    const note: ValveNote = { id: event.id, status: event.status, by: event.issued_by, at: now };
    if (isRunning(event.status)) {
      // A late start of a command that already ended does not reopen the valve.
      if (this.#outcome?.id === event.id) return;
      this.#running.delete(event.id);
      this.#running.set(event.id, note);
      if (this.#running.size > MAX_RUNNING) {
        this.#running.delete(this.#running.keys().next().value!);
      }
      return;
    }
    this.#running.delete(event.id);
    this.#outcome = note;
  }

  /** A `command_status` of this connection's own `rejected` command, at `now` (ms). */
  rejected(id: string, now: number): void {
    this.#outcome = { id, status: "rejected", by: undefined, at: now };
  }

  /**
   * What the row shows at `now` (ms): the newest command under way, else the last outcome while
   * it is recent; `undefined` when there is nothing to show. Forgets what is too old to show.
   */
  shown(now: number): ValveNote | undefined {
    for (const [id, note] of this.#running) {
      if (now - note.at >= RUNNING_CAP_MS) this.#running.delete(id);
    }
    const running = [...this.#running.values()].at(-1);
    if (running) return running;
    const outcome = this.#outcome;
    if (outcome && now - outcome.at < OUTCOME_SHOWN_MS) return outcome;
    this.#outcome = undefined;
    return undefined;
  }
}

/** The words for a valve state, without who sent it: `irrigating`, `irrigation failed`. */
export const IRRIGATION_WORDS: Readonly<Record<CommandStatus, string>> = {
  sent: "irrigation sent",
  accepted: "irrigating",
  done: "irrigated",
  failed: "irrigation failed",
  timeout: "irrigation timed out",
  rejected: "irrigation rejected",
};

/** The table's style (ANSI SGR parameters) of each state: irrigating stands out. */
export const IRRIGATION_SGR: Readonly<Record<CommandStatus, string>> = {
  sent: "33",
  accepted: "1;36",
  done: "32",
  failed: "31",
  timeout: "31",
  rejected: "31",
};

/** A piece of a table line: its text and its SGR style, if any. */
export type Cell = [text: string, style?: string];

/**
 * The table's VALVE column for the shown rows' notes (in order), or `undefined` when no row has
 * one: the column comes and goes with irrigations. Each row's cells are padded to the column.
 */
export function valveColumn(
  notes: readonly (ValveNote | undefined)[],
): { title: string; cells: Cell[][] } | undefined {
  if (!notes.some((n) => n !== undefined)) return undefined;
  const labels = notes.map((n): Cell => n ? [irrigationLabel(n), IRRIGATION_SGR[n.status]] : [""]);
  const width = Math.max(VALVE_TITLE.length, ...labels.map(([text]) => text.length));
  return {
    title: VALVE_TITLE.padEnd(width),
    cells: labels.map((label) => [label, [" ".repeat(width - label[0].length)]]),
  };
}

const VALVE_TITLE = "VALVE";

/** Longest issuer name a row shows; longer ones are cut with `…`. */
export const MAX_ISSUER_CHARS = 24;

/**
 * A note as a row shows it: `irrigating (alice)`. The issuer's control characters are escaped
 * (it is the peer's text) and it is cut to {@link MAX_ISSUER_CHARS} characters.
 */
export function irrigationLabel(note: Pick<ValveNote, "status" | "by">): string {
  const words = IRRIGATION_WORDS[note.status];
  if (note.by === undefined) return words;
  // By code point, so an emoji is never cut in half.
  const chars = [...escapeControl(note.by)];
  const by = chars.length > MAX_ISSUER_CHARS
    ? chars.slice(0, MAX_ISSUER_CHARS - 1).join("") + "…"
    : chars.join("");
  return `${words} (${by})`;
}
