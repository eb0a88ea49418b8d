// @ts-check
/**
 * The page's side of the protocol, without the DOM: a {@link Connection} whose messages fill the
 * model, whose openings ask for what the charts miss ({@link SyncPlan}), and whose token events
 * (expiring, refreshed, refused) become notices and token prompts; commands go out, and what
 * becomes of them fills the {@link Valves}. The app renders what this reports; tests drive it
 * against a real server.
 * @module
 */
import { newCommandId } from "./commands.js";
import { Connection } from "./connection.js";
import { SyncPlan } from "./sync.js";
import { Valves } from "./valves.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./selection.js").Selection} Selection */
/** @typedef {import("./connection.js").ConnectionState} ConnectionState */
/** @typedef {import("./connection.js").ConnectionOptions} ConnectionOptions */
/** @typedef {import("./connection.js").ServerMessage} ServerMessage */
/** @typedef {import("./closes.js").CloseInfo} CloseInfo */

/**
 * What the client reports, besides the model it fills.
 * @typedef {object} ClientEvents
 * @property {() => Selection} selection What is shown now.
 * @property {(state: ConnectionState) => void} onState
 * @property {() => void} onChange The model changed (render on the next frame).
 * @property {(mqtt: unknown) => void} onBroker The broker link's state, from `bridge_status`.
 * @property {(instance: unknown) => void} onInstance The serving process it landed on, from
 *   `connection_status` (several instances behind a load balancer tell themselves apart).
 * @property {(key: string, text: string | undefined) => void} onNotice A notice to show, or clear.
 * @property {(why: { close?: CloseInfo, message?: string }) => void} onTokenNeeded Ask for a token.
 * @property {(token: string | undefined) => void} onToken The token to keep (undefined: forget it).
 * @property {Valves} [valves] What commands do (default: its own).
 */

/** The dashboard's client of the stream. */
export class DashboardClient {
  #model;
  #on;
  #connection;
  #plan = new SyncPlan();
  /** The server's time of the last message of an admitted connection: where a resume starts. */
  /** @type {string | undefined} */
  #lastHeard;
  /** A token sent in `refresh`, kept once the server accepts it. @type {string | undefined} */
  #renewing;
  #now;
  #valves;

  /**
   * @param {Model} model
   * @param {ClientEvents & Omit<ConnectionOptions, "onOpen" | "onMessage" | "onState">} options
   */
  constructor(model, options) {
    this.#model = model;
    this.#on = options;
    this.#now = options.now ?? Date.now;
    this.#valves = options.valves ?? new Valves();
    this.#connection = new Connection({
      ...options,
      onOpen: () => this.#open(),
      onMessage: (m) => this.#handle(m),
      onState: (state) => this.#state(state),
    });
  }

  /** The connection's state. */
  get state() {
    return this.#connection.state;
  }

  /**
   * Asks to irrigate a sensor (what becomes of it goes to the valves); returns the command id.
   * @param {string} sensorId @param {number} seconds
   */
  irrigate(sensorId, seconds) {
    const id = newCommandId();
    this.#valves.sending(sensorId, id, seconds);
    const sent = this.#connection.state.state === "connected" &&
      this.#connection.send({
        type: "command",
        id,
        sensor_id: sensorId,
        action: "irrigate",
        params: { duration_s: seconds },
      });
    if (!sent) this.#valves.unsent(sensorId);
    this.#on.onChange();
    return id;
  }

  /** Connects with `token`. */
  start(/** @type {string} */ token) {
    this.#on.onToken(token);
    this.#connection.start(token);
  }

  /** Closes for good. */
  stop() {
    this.#connection.stop();
  }

  /** When waiting to reconnect, tries now. */
  retryNow() {
    this.#connection.retryNow();
  }

  /** A token the user gave: renews the connection's (`refresh`) when connected, else connects. */
  useToken(/** @type {string} */ token) {
    if (this.#connection.state.state !== "connected") return this.start(token);
    this.#renewing = token;
    this.#connection.send({ type: "refresh", token });
    this.#on.onNotice("token", "Renewing the token…");
  }

  /** Sends what the selection and newly seen sensors need (subscriptions, their history). */
  sync() {
    if (this.#connection.state.state !== "connected") return;
    const requests = this.#plan.update(this.#model, this.#on.selection(), this.#serverNow());
    for (const request of requests) this.#connection.send(request);
  }

  #serverNow() {
    return this.#model.serverNow(this.#now());
  }

  #open() {
    const carry = this.#plan.unanswered(this.#model.ids());
    this.#plan = new SyncPlan();
    return this.#plan.open(this.#model, this.#on.selection(), {
      serverNow: this.#serverNow(),
      lastHeard: this.#lastHeard,
      carry,
    });
  }

  /** @param {ConnectionState} state */
  #state(state) {
    this.#on.onState(state);
    if (state.state === "disconnected" && state.close?.retry === "stop") {
      this.#on.onToken(undefined);
      this.#on.onNotice("token", undefined);
      this.#on.onTokenNeeded({ close: state.close });
    }
  }

  /** @param {ServerMessage} m */
  #handle(m) {
    const model = this.#model;
    const on = this.#on;
    const now = this.#now();
    const d = m.data ?? {};
    // A reading carries its own time; every other message the server's clock.
    if (m.type !== "sensor_reading") model.observeServerTime(m.timestamp, now);
    switch (m.type) {
      case "connection_status":
        on.onInstance(d.instance);
        model.markAllLive();
        this.#valves.reconnected();
        on.onNotice("history", undefined);
        on.onNotice("error", undefined);
        break;
      case "bridge_status":
        on.onBroker(d.mqtt);
        break;
      case "sensor_reading":
        model.addReading(d.sensor_id, d, m.timestamp);
        break;
      case "history":
        model.addHistory(d.sensor_id, d.readings);
        if (this.#plan.answered(d.sensor_id, d.complete === true)) {
          on.onNotice(
            "history",
            `Some readings of ${d.sensor_id} during the outage are missing: the server did not ` +
              "hold them all.",
          );
        }
        break;
      case "sensor_status":
        model.setStatus(d.sensor_id, d.status);
        break;
      case "command_event":
        this.#valves.event(d, now);
        break;
      case "command_status":
        this.#valves.status(d);
        break;
      case "token_expiring":
        on.onNotice(
          "token",
          `The token expires at ${timeOf(d.expires_at)}. Paste a new one to stay connected.`,
        );
        on.onTokenNeeded({ message: "The token expires soon: paste a new one." });
        break;
      case "token_refreshed":
        if (this.#renewing !== undefined) {
          on.onToken(this.#renewing);
          this.#connection.setToken(this.#renewing);
        }
        this.#renewing = undefined;
        on.onNotice(
          "token",
          d.expires_at
            ? `Token renewed: it now expires at ${timeOf(d.expires_at)}.`
            : "Token renewed: it does not expire.",
        );
        break;
      case "error":
        if (d.code === "invalid_token") {
          this.#renewing = undefined;
          on.onNotice("token", undefined);
          on.onTokenNeeded({ message: `The new token was refused: ${d.message}` });
        } else on.onNotice("error", `The server says: ${d.message}`);
        break;
    }
    this.#lastHeard = new Date(model.serverNow(now)).toISOString();
    on.onChange();
  }
}

/** @param {unknown} iso */
function timeOf(iso) {
  const at = new Date(String(iso));
  return Number.isNaN(at.getTime()) ? String(iso) : at.toLocaleTimeString();
}
