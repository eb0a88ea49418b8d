// @ts-check
/**
 * What one connection asks the server for, pure: on open, the history that fills the charts (the
 * window on first load; after a reconnect, per sensor what came after its newest reading, so the
 * charts have no hole), and as the selection changes or new sensors appear, the subscriptions and
 * the history of sensors that become shown. A new connection gets a new plan, carrying over what
 * the last one asked for and never got.
 * @module
 */
import { relativeWindow } from "./state.js";
import { chunks, isShown, subscriptionChanges } from "./selection.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./selection.js").Selection} Selection */
/**
 * A message the dashboard sends.
 * @typedef {{ type: "subscribe" | "unsubscribe", sensors: string[] }
 *   | { type: "history", sensors?: string[], since: string | Record<string, string> }} Request
 */

/** Most sensors one per-sensor `history` request names: an entry is up to ~100 bytes. */
const SINCE_CHUNK = 500;

/** The requests of one connection. */
export class SyncPlan {
  /** Sensors this connection has unsubscribed. @type {Set<string>} */
  #excluded = new Set();
  /** Sensors excluded at some time: what was asked for them has a hole since. @type {Set<string>} */
  #gapped = new Set();
  /** Per sensor, the `since` asked for. @type {Map<string, string>} */
  #asked = new Map();
  /** The `since` of a request without sensors: every sensor the server had then. */
  /** @type {string | undefined} */
  #askedAll;
  /** Sensors whose reply came. @type {Set<string>} */
  #answered = new Set();
  /** Sensors asked for from a reading's time (a reconnect), not a relative one. */
  /** @type {Set<string>} */
  #resumed = new Set();

  /**
   * The requests to send as the connection opens, before any message came (so the connect
   * snapshot cannot move a sensor's resume point past its gap).
   * @param {Model} model @param {Selection} selection
   * @param {object} at
   * @param {number} at.serverNow
   * @param {string | undefined} at.lastHeard The server's time of the last message of an admitted
   *   connection; undefined before the first.
   * @param {Record<string, string>} [at.carry] What the previous connection asked for and never
   *   got, per sensor ({@link SyncPlan.unanswered}).
   * @returns {Request[]}
   */
  open(model, selection, at) {
    const requests = this.#subscriptions(model, selection);
    const window = relativeWindow(model.windowMs);
    if (at.lastHeard === undefined) {
      if (selection === null) {
        this.#askedAll = window;
        requests.push({ type: "history", since: window });
      } else {
        for (const sensors of chunks([...selection])) {
          requests.push({ type: "history", sensors, since: window });
        }
        for (const id of selection) this.#asked.set(id, window);
      }
      return requests;
    }
    const shown = selection === null ? model.ids() : [...selection];
    requests.push(...this.#resume(model, shown, at.serverNow, at.carry ?? {}));
    // Sensors that appeared while the page was away have no resume point.
    if (selection === null) {
      this.#askedAll = at.lastHeard;
      requests.push({ type: "history", since: at.lastHeard });
    }
    return requests;
  }

  /**
   * The requests the selection and the known sensors need now: subscriptions, and the history
   * of every shown sensor this connection has not asked for (or has excluded since).
   * @param {Model} model @param {Selection} selection @param {number} serverNow
   * @returns {Request[]}
   */
  update(model, selection, serverNow) {
    const requests = this.#subscriptions(model, selection);
    const candidates = new Set(model.ids());
    if (selection !== null) { for (const id of selection) candidates.add(id); }
    const missing = [...candidates].filter((id) => isShown(selection, id) && !this.#covered(id));
    requests.push(...this.#resume(model, missing, serverNow, {}));
    return requests;
  }

  /**
   * A `history` reply came. True when it was a reconnect's and `complete` is false: readings of
   * the outage are missing, which the page should say.
   * @param {string} id @param {boolean} complete
   */
  answered(id, complete) {
    this.#answered.add(id);
    return !complete && this.#resumed.has(id);
  }

  /**
   * What this connection asked for and got no reply to, per sensor of `ids`: where the next
   * connection must start them instead of their newest reading.
   * @param {Iterable<string>} ids @returns {Record<string, string>}
   */
  unanswered(ids) {
    /** @type {Array<[string, string]>} */
    const out = [];
    for (const id of ids) {
      if (this.#answered.has(id)) continue;
      const since = this.#asked.get(id) ?? (this.#gapped.has(id) ? undefined : this.#askedAll);
      if (since !== undefined) out.push([id, since]);
    }
    return Object.fromEntries(out);
  }

  /** @param {string} id */
  #covered(id) {
    return this.#asked.has(id) || (this.#askedAll !== undefined && !this.#gapped.has(id));
  }

  /** @param {Model} model @param {Selection} selection @returns {Request[]} */
  #subscriptions(model, selection) {
    const { messages, excluded } = subscriptionChanges(selection, model.ids(), this.#excluded);
    // Our own record, not the server's `subscriptions` replies: the server takes messages in
    // order, and a reply may describe a state that later messages already changed.
    for (const id of excluded) {
      this.#gapped.add(id);
      this.#asked.delete(id);
    }
    this.#excluded = excluded;
    return messages;
  }

  /**
   * @param {Model} model @param {readonly string[]} ids @param {number} serverNow
   * @param {Record<string, string>} carry @returns {Request[]}
   */
  #resume(model, ids, serverNow, carry) {
    const points = model.resumePoints(ids, serverNow);
    const window = relativeWindow(model.windowMs);
    /** @type {Array<[string, string]>} */
    const pairs = ids.map((
      id,
    ) => [id, /** @type {string} */ ((Object.hasOwn(carry, id) ? carry : points)[id])]);
    for (const [id, since] of pairs) {
      this.#asked.set(id, since);
      this.#answered.delete(id);
      if (since !== window) this.#resumed.add(id);
    }
    // fromEntries, not assignment: a sensor may be called `__proto__`.
    return chunks(pairs, SINCE_CHUNK).map((part) => ({
      type: "history",
      since: Object.fromEntries(part),
    }));
  }
}
