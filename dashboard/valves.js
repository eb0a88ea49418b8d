// @ts-check
/**
 * The valves, pure (time passed in): per sensor, the irrigation going on (`command_event`) or,
 * for a while after, how it ended; and this page's last command (`command_status`). A start whose
 * end never comes (there is no duration to go by) is dropped after the longest irrigation, and a
 * new connection starts clean: the server does not replay commands.
 * @module
 */
import { isId } from "./state.js";

/** @typedef {"sent" | "accepted" | "done" | "failed" | "timeout"} EventStatus */
/**
 * A command's `command_status`, or `sending`, `unsent` (no connection), `unknown` (connection lost).
 * @typedef {EventStatus | "rejected" | "sending" | "unsent" | "unknown"} MyStatus
 */
/** A valve; `by` is the sender (cut), `at` local ms. @typedef {{ id: string, status: EventStatus, by: string, at: number }} Valve */
/** @typedef {{ id: string, seconds: number, status: MyStatus, reason?: string, detail?: string }} MyCommand */

/** How long an outcome stays on a tile, ms. */
export const OUTCOME_MS = 60_000;
/** A start not heard of again within this is dropped: the longest irrigation + a margin, ms. */
export const RUNNING_CAP_MS = 3_600_000 + 10 * 60_000;

const RUNNING = ["sent", "accepted", "sending"];

/** The sensors' valves and this page's commands. */
export class Valves {
  /** @type {Map<string, Valve>} */
  #valves = new Map();
  /** @type {Map<string, MyCommand>} */
  #mine = new Map();
  /** @type {Set<string>} */
  #changed = new Set();

  /** Takes a `command_event`'s data heard at `now`. @param {any} d @param {number} now */
  event(d, now) {
    if (!isId(d?.sensor_id) || !Object.hasOwn(VALVE_WORDS, d.status)) return;
    if (typeof d.id !== "string" || typeof d.issued_by !== "string") return;
    const running = RUNNING.includes(d.status);
    const last = this.#valves.get(d.sensor_id);
    // The latest start shows until it ends; an older command's end, or a late start of one that
    // ended, changes nothing.
    if (last && RUNNING.includes(last.status) ? last.id !== d.id && !running : last?.id === d.id) {
      return;
    }
    this.#valves.set(d.sensor_id, { id: d.id, status: d.status, by: clip(d.issued_by), at: now });
    this.#changed.add(d.sensor_id);
  }

  /**
   * This page hands command `id` for `sensorId` (to run `seconds`) to the socket.
   * @param {string} sensorId @param {string} id @param {number} seconds
   */
  sending(sensorId, id, seconds) {
    this.#mine.set(sensorId, { id, seconds, status: "sending" });
    this.#changed.add(sensorId);
  }

  /** There was no connection to send it on. @param {string} sensorId */
  unsent(sensorId) {
    this.#setMine(sensorId, { status: "unsent" });
  }

  /** Takes a `command_status`'s data, about the sensor's latest command until it ended. @param {any} d */
  status(d) {
    const mine = isId(d?.sensor_id) ? this.#mine.get(d.sensor_id) : undefined;
    const known = d?.status === "rejected" || Object.hasOwn(VALVE_WORDS, d?.status);
    if (!known || !mine || mine.id !== d.id || !RUNNING.includes(mine.status)) return;
    /** @type {Partial<MyCommand>} */
    const change = { status: d.status };
    if (typeof d.reason === "string") change.reason = d.reason;
    if (typeof d.detail === "string") change.detail = d.detail;
    this.#setMine(d.sensor_id, change);
  }

  /** A new connection: valves start clean; this page's commands under way are of unknown outcome. */
  reconnected() {
    for (const id of this.#valves.keys()) this.#changed.add(id);
    this.#valves.clear();
    for (const [id, mine] of this.#mine) {
      if (RUNNING.includes(mine.status)) this.#setMine(id, { status: "unknown" });
    }
  }

  /** Forgets outcomes shown long enough and starts past the cap; true when a tile changed. */
  expire(/** @type {number} */ now) {
    const before = this.#changed.size;
    for (const [id, v] of this.#valves) {
      if (now - v.at >= (RUNNING.includes(v.status) ? RUNNING_CAP_MS : OUTCOME_MS)) {
        this.#valves.delete(id);
        this.#changed.add(id);
      }
    }
    return this.#changed.size > before;
  }

  /** Sensor `id`'s valve, if there is something to show. @param {string} id */
  valve(id) {
    return this.#valves.get(id);
  }

  /** This page's last command to sensor `id`. @param {string} id */
  mine(id) {
    return this.#mine.get(id);
  }

  /** Sensors whose valve or command changed since the last call. */
  takeChanged() {
    const changed = this.#changed;
    this.#changed = new Set();
    return changed;
  }

  /** @param {string} sensorId @param {Partial<MyCommand>} change */
  #setMine(sensorId, change) {
    const mine = this.#mine.get(sensorId);
    if (mine) this.#mine.set(sensorId, { ...mine, ...change });
    this.#changed.add(sensorId);
  }
}

/** `text` cut to 64 code points, with `…` when cut. @param {string} text */
function clip(text) {
  const chars = [...text];
  return chars.length > 64 ? chars.slice(0, 63).join("") + "…" : text;
}

/** A valve's state in words. */
export const VALVE_WORDS = /** @type {const} */ ({
  sent: "irrigation sent",
  accepted: "irrigating",
  done: "irrigated",
  failed: "irrigation failed",
  timeout: "irrigation timed out",
});

/** What this page's command shows under its Irrigate button. @param {Readonly<MyCommand>} m */
export function myCommandText(m) {
  const more = (/** @type {string} */ head, /** @type {string | undefined} */ text) =>
    text ? `${head}: ${text}` : `${head}.`;
  return {
    sending: "Sending…",
    unsent: "Not sent: not connected.",
    sent: "Sent; waiting for the valve…",
    accepted: `Irrigating for ${m.seconds} s.`,
    done: more("Done", m.detail),
    failed: more("Failed", m.detail),
    timeout: "Timed out: no answer from the device.",
    rejected: more("Rejected", m.reason),
    unknown: "Outcome unknown: the connection was lost.",
  }[m.status];
}
