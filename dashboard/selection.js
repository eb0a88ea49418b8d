// @ts-check
/**
 * Which sensors the dashboard shows, pure: the URL fragment that bookmarks a view
 * (`#sensors=V1,V3`, and `#token=…` once, on arrival), choosing sensors, and the `subscribe` /
 * `unsubscribe` messages that make the server send only what is shown.
 *
 * The connection always starts as "all" (no `?sensors=`), so the connect snapshot names every
 * sensor there is; sensors not shown are then excluded with `unsubscribe`, which leaves the
 * server in "all except" mode: a sensor that appears later still reaches the page once, and so
 * shows up in the list to choose from.
 * @module
 */
import { MAX_HISTORY_SENSORS, SENSOR_ID_PATTERN } from "./protocol.js";

/** What is shown: `null` for every sensor, else exactly these ids. */
/** @typedef {ReadonlySet<string> | null} Selection */

/**
 * Reads the fragment: `#token=…&sensors=V1,V3`. `sensors` absent means all; present but empty
 * means none. Invalid ids are dropped.
 * @param {string} hash @returns {{ token: string | undefined, sensors: Selection }}
 */
export function parseFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token")?.trim() || undefined;
  const list = params.get("sensors");
  if (list === null) return { token, sensors: null };
  const ids = list.split(",").map((s) => s.trim()).filter((s) => SENSOR_ID_PATTERN.test(s));
  return { token, sensors: new Set(ids) };
}

/**
 * The fragment for a selection: `#sensors=V1,V3`, or `""` for all. Never the token: it goes to
 * sessionStorage and stays out of the address bar, history and bookmarks.
 * @param {Selection} selection
 */
export function formatFragment(selection) {
  if (selection === null) return "";
  return `#sensors=${[...selection].join(",")}`;
}

/** Whether a sensor is shown. @param {Selection} selection @param {string} id */
export function isShown(selection, id) {
  return selection === null || selection.has(id);
}

/**
 * The selection after one sensor's checkbox changed. From "all", unticking one selects every
 * other known sensor.
 * @param {Selection} selection @param {Iterable<string>} known @param {string} id @param {boolean} on
 * @returns {Selection}
 */
export function toggle(selection, known, id, on) {
  const next = new Set(selection ?? known);
  if (on) next.add(id);
  else next.delete(id);
  return next;
}

/**
 * `subscribe` / `unsubscribe` messages that bring the server's exclusions (`excluded`, what this
 * connection has unsubscribed) to what the selection wants, and the exclusions after them. Only
 * excluded sensors are ever subscribed: from plain "all", `subscribe` would narrow to exactly the
 * given ids, and new sensors would never reach the page.
 * @param {Selection} selection @param {Iterable<string>} known @param {ReadonlySet<string>} excluded
 * @returns {{ messages: Array<{ type: "subscribe" | "unsubscribe", sensors: string[] }>, excluded: Set<string> }}
 */
export function subscriptionChanges(selection, known, excluded) {
  const want = new Set();
  if (selection !== null) { for (const id of known) if (!selection.has(id)) want.add(id); }
  const include = [...excluded].filter((id) => !want.has(id));
  const exclude = [...want].filter((id) => !excluded.has(id));
  return {
    messages: [
      ...chunks(include).map((sensors) => ({ type: /** @type {const} */ ("subscribe"), sensors })),
      ...chunks(exclude).map((sensors) => ({
        type: /** @type {const} */ ("unsubscribe"),
        sensors,
      })),
    ],
    excluded: want,
  };
}

/**
 * Splits ids into lists a message may carry.
 * @template T @param {T[]} items @param {number} [size]
 */
export function chunks(items, size = MAX_HISTORY_SENSORS) {
  /** @type {T[][]} */
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
