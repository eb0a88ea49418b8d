/**
 * How a simulated station answers a command, pure: reading the payload, the decision (open the
 * valve, refuse with a reason, or keep quiet) and the words of its acks and of the line a user
 * reads. The MQTT side is `commands.ts`.
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import {
  COMMAND_ACTIONS,
  COMMAND_MAX_AGE_MS,
  CommandPublishSchema,
  IrrigateParamsSchema,
} from "../protocol/mod.ts";

/** How stations answer commands (see `SimulatorOptions.commandReply`). */
export const COMMAND_REPLIES = ["done", "fail", "silent", "off"] as const;
/** One of {@link COMMAND_REPLIES}. */
export type CommandReply = typeof COMMAND_REPLIES[number];

/** Largest command payload a station reads, bytes (a real one is about 150). */
export const MAX_COMMAND_BYTES = 4 * 1024;
/** With `fail`, how long a valve tries before the station reports it stuck, ms. */
export const FAIL_AFTER_MS = 1_000;
/** Command ids a station remembers, so that a redelivered (QoS 1) command does not run twice. */
export const REMEMBERED_IDS = 32;
/** What the station says when its valve is stuck (`fail`). */
export const STUCK_DETAIL = "valve stuck: no flow";
/** Longest ack detail the protocol allows. */
const MAX_DETAIL = 1_024;
/** Longest id the protocol allows. */
const MAX_ID = 64;

/** The parts of a command a station can name it by, as they came (unsanitized). */
export interface CommandHead {
  id: string;
  /** The action as sent (`undefined` when it was not a string). */
  action: string | undefined;
  /** The issuing token's sub (`undefined` when it was not a string). */
  issuedBy: string | undefined;
  /** `issued_at`, ms (`undefined` when it was not a time). */
  issuedAt?: number | undefined;
}

/** A command payload, read as far as it goes. */
export type ReadCommand =
  /** A valid `irrigate`. */
  | { kind: "irrigate"; head: CommandHead; durationMs: number }
  /** It has an id, so it is answered, with `failed` and this detail. */
  | { kind: "invalid"; head: CommandHead; detail: string }
  /** No id to answer: the station ignores it (and says so in the log). */
  | { kind: "malformed"; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads a payload from a command topic (never throws). */
export function readCommand(payload: Uint8Array): ReadCommand {
  if (payload.byteLength > MAX_COMMAND_BYTES) {
    return {
      kind: "malformed",
      reason: `too large: ${payload.byteLength} bytes (at most ${MAX_COMMAND_BYTES})`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(payload));
  } catch (error) {
    return { kind: "malformed", reason: `not JSON: ${(error as Error).message}` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { kind: "malformed", reason: "not a JSON object" };
  }
  const o = json as Record<string, unknown>;
  if (typeof o.id !== "string" || o.id === "" || o.id.length > MAX_ID) {
    return { kind: "malformed", reason: `no "id" (a string of 1 to ${MAX_ID} characters)` };
  }
  const head: CommandHead = {
    id: o.id,
    action: typeof o.action === "string" ? o.action : undefined,
    issuedBy: typeof o.issued_by === "string" ? o.issued_by : undefined,
    issuedAt: typeof o.issued_at === "string" ? timeOf(o.issued_at) : undefined,
  };
  if (!(COMMAND_ACTIONS as readonly (string | undefined)[]).includes(head.action)) {
    const named = head.action === undefined ? "" : ` "${safe(head.action, 64)}"`;
    return {
      kind: "invalid",
      head,
      detail: `unknown action${named}; this station knows ${COMMAND_ACTIONS.join(", ")}`,
    };
  }
  const params = IrrigateParamsSchema.safeParse(o.params);
  if (!params.success) {
    return {
      kind: "invalid",
      head,
      detail: "invalid params: duration_s must be an integer from 1 to 3600",
    };
  }
  const whole = CommandPublishSchema.safeParse(o);
  if (!whole.success) {
    const issue = whole.error.issues[0];
    const where = issue?.path.join(".") || "command";
    return { kind: "invalid", head, detail: `invalid command: ${where}: ${issue?.message}` };
  }
  return { kind: "irrigate", head, durationMs: params.data.duration_s * 1_000 };
}

/** What a station knows of itself when a command comes. */
export interface StationNow {
  /** The broker's stored copy (retained), not a command sent now. */
  retained?: boolean;
  /** How long ago it was issued, ms (`undefined`: unknown). */
  ageMs?: number | undefined;
  /** In a planned outage: offline. */
  offline: boolean;
  /** Time left of its open valve, ms; `undefined` when it is closed. */
  busyLeftMs: number | undefined;
  /** It answered a command with this id before. */
  answeredBefore: boolean;
}

/** What the station does with a command. */
export type Answer =
  /** Deliberately not answered. */
  | { do: "nothing"; why: string }
  /** Ack `failed` with this detail at once. */
  | { do: "refuse"; detail: string }
  /** Ack `accepted`, open the valve for `durationMs`; `stuck`: no water, then `failed`. */
  | { do: "open"; durationMs: number; stuck: boolean };

/** A command with an id, which a station may answer. */
export type AnswerableCommand = Exclude<ReadCommand, { kind: "malformed" }>;

/**
 * The station's answer to `read` in `mode` (never `off`: then it does not listen). Keeping quiet
 * comes first (`silent`, offline, a repeat), then refusals, then the valve.
 */
export function answer(read: AnswerableCommand, station: StationNow, mode: CommandReply): Answer {
  if (mode === "silent") return { do: "nothing", why: "command replies are silent" };
  if (station.retained) return { do: "nothing", why: "a retained command: old, not sent now" };
  if (station.ageMs !== undefined && station.ageMs > COMMAND_MAX_AGE_MS) {
    const s = Math.round(station.ageMs / 1_000);
    return { do: "nothing", why: `issued ${s} s ago: too late, the server has called it timeout` };
  }
  if (station.offline) return { do: "nothing", why: "offline: in a planned outage" };
  if (station.answeredBefore) return { do: "nothing", why: "answered already: a redelivery" };
  if (read.kind === "invalid") return { do: "refuse", detail: read.detail };
  if (station.busyLeftMs !== undefined) {
    const left = Math.max(1, Math.ceil(station.busyLeftMs / 1_000));
    return { do: "refuse", detail: `already irrigating (${left} s left)` };
  }
  if (mode === "fail") {
    return { do: "open", durationMs: Math.min(FAIL_AFTER_MS, read.durationMs), stuck: true };
  }
  return { do: "open", durationMs: read.durationMs, stuck: false };
}

/** The last {@link REMEMBERED_IDS} command ids each station answered. */
export class AnsweredIds {
  readonly #ids = new Map<string, string[]>();

  /** Whether `sensorId` answered `id` lately. */
  has(sensorId: string, id: string): boolean {
    return this.#ids.get(sensorId)?.includes(id) ?? false;
  }

  /** Notes that `sensorId` answered `id`. */
  add(sensorId: string, id: string): void {
    const ids = this.#ids.get(sensorId) ?? [];
    ids.push(id);
    if (ids.length > REMEMBERED_IDS) ids.shift();
    this.#ids.set(sensorId, ids);
  }
}

/**
 * How a command is named in the log: `V1 irrigate 30 s (id 7, by alice)`; what came from the
 * network is clipped and its control characters escaped.
 */
export function commandTitle(sensorId: string, head: CommandHead, durationMs?: number): string {
  const action = head.action === undefined ? "(no action)" : safe(head.action, 64);
  const duration = durationMs === undefined ? "" : ` ${seconds(durationMs)} s`;
  const by = head.issuedBy === undefined ? "" : `, by ${safe(head.issuedBy, 64)}`;
  return `${sensorId} ${action}${duration} (id ${safe(head.id, MAX_ID)}${by})`;
}

/** The log line of an ack or non-answer: `<title>: done — moisture 52.3 → 56.8 %, +4.5`. */
export function commandLine(title: string, outcome: string, detail?: string): string {
  return detail === undefined ? `${title}: ${outcome}` : `${title}: ${outcome} — ${detail}`;
}

/** The detail of `accepted`. */
export function acceptedDetail(durationMs: number): string {
  return `valve open for ${seconds(durationMs)} s`;
}

/** The detail of `done`: moisture before → after, and whether the soil is saturated. */
export function doneDetail(before: number, after: number, saturated: boolean): string {
  const rise = (after - before).toFixed(1);
  const change = `moisture ${before.toFixed(1)} → ${after.toFixed(1)} %`;
  return `${change}, ${rise.startsWith("-") ? "" : "+"}${rise}${
    saturated ? ", soil saturated" : ""
  }`;
}

/** The detail of `failed` for a valve closed early because the run stopped. */
export function stoppedDetail(
  ranMs: number,
  durationMs: number,
  moisture?: { before: number; after: number },
): string {
  const ran = `simulator stopped after ${seconds(ranMs)} of ${seconds(durationMs)} s`;
  if (!moisture) return ran;
  return `${ran}, moisture ${moisture.before.toFixed(1)} → ${moisture.after.toFixed(1)} %`;
}

/** `detail` cut to what an ack may carry. */
export function ackDetail(detail: string): string {
  return detail.length > MAX_DETAIL ? detail.slice(0, MAX_DETAIL - 1) + "…" : detail;
}

/** Whole seconds, or tenths when below 10 s and not whole. */
function seconds(ms: number): string {
  const s = ms / 1_000;
  return Number.isInteger(s) || s >= 10 ? String(Math.round(s)) : s.toFixed(1);
}

/** Untrusted text for a log line or a detail: clipped, control characters escaped. */
function safe(text: string, max: number): string {
  return escapeControl(text.length > max ? text.slice(0, max) + "…" : text);
}

/** Milliseconds of an ISO time, or `undefined`. */
function timeOf(text: string): number | undefined {
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}
