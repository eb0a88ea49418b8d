// @ts-check
/// <reference lib="dom" />
/**
 * The page's DOM: the status bar, notices, the token panel, the sensor picker and one tile per
 * shown sensor (with its valve, and Irrigate if the token may). It renders from the models when
 * asked (the app batches, a few times a second) and never reads state back from the DOM (but a
 * duration typed). Text from the server goes in as text, never as HTML.
 * Tiles are built once ({@link newTile}), then only what changed in them is written.
 * @module
 */
import { colorOf } from "./chart_data.js";
import { isShown } from "./selection.js";
import {
  el,
  fillMyCommand,
  fillTile,
  fillValve,
  newTile,
  offerIrrigate,
  tickAge,
} from "./tiles.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./selection.js").Selection} Selection */
/** @typedef {import("./connection.js").ConnectionState} ConnectionState */
/** @typedef {import("./closes.js").CloseInfo} CloseInfo */
/** @typedef {import("./tiles.js").Tile} Tile */
/** @typedef {import("./valves.js").Valves} Valves */

/**
 * @typedef {object} ViewOptions
 * @property {(token: string) => void} onToken
 * @property {(id: string | null, on: boolean) => void} onSelect `null`: the "all sensors" box.
 * @property {(id: string, seconds: number) => void} onIrrigate
 * @property {Valves} valves What the tiles show of the valves.
 */

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page lacks #${id}: is index.html from the same version?`);
  return el;
}

/** The page, as the app drives it. */
export class View {
  #connection = byId("connection");
  #detail = byId("connection-detail");
  #instance = byId("instance");
  #broker = byId("broker");
  #count = byId("sensor-count");
  #notice = byId("notice");
  #panel = byId("token-panel");
  #tokenError = byId("token-error");
  #tokenInput = /** @type {HTMLInputElement} */ (byId("token-input"));
  #tokenSubmit = byId("token-submit");
  #tokenButton = byId("token-button");
  #selectAll = /** @type {HTMLInputElement} */ (byId("select-all"));
  #picks = byId("picks");
  #tiles = byId("tiles");
  #empty = byId("empty");
  /** @type {Map<string, string>} */
  #notices = new Map();
  /** @type {Map<string, Tile>} */
  #tileOf = new Map();
  /** The picker's boxes, by sensor id. @type {Map<string, HTMLInputElement>} */
  #boxOf = new Map();
  /** The tiles on the page, in order. @type {Tile[]} */
  #shownTiles = [];
  /** @type {ConnectionState | undefined} */
  #state;
  /** The ids and selection last rendered (the model's ids array is new only when one came). */
  /** @type {readonly string[] | undefined} */
  #ids;
  /** @type {Selection | undefined} */
  #selection;
  #dark = false;
  /** The actions of the token's `commands` claim. @type {ReadonlySet<string>} */
  #commands = new Set();
  #valves;

  /** @param {ViewOptions} on */
  constructor(on) {
    this.#valves = on.valves;
    byId("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.#tokenInput.value.trim();
      if (token === "") return this.#tokenInput.focus();
      this.#tokenInput.value = "";
      on.onToken(token);
    });
    this.#tokenButton.addEventListener("click", () => {
      if (this.#panel.hidden) this.showToken({ focus: true });
      else this.hideToken();
    });
    byId("picker").addEventListener("change", (event) => {
      const box = /** @type {HTMLInputElement} */ (event.target);
      on.onSelect(box === this.#selectAll ? null : box.value, box.checked);
    });
    // One listener for every Irrigate control; the browser checked the duration.
    this.#tiles.addEventListener("submit", (event) => {
      event.preventDefault();
      const form = /** @type {HTMLFormElement} */ (event.target);
      const tile = this.#tileOf.get(form.dataset.sensor ?? "");
      const seconds = tile?.control?.input.valueAsNumber;
      if (!tile?.control || tile.control.button.ariaDisabled === "true") return;
      if (Number.isInteger(seconds)) on.onIrrigate(tile.id, /** @type {number} */ (seconds));
    });
  }

  /** The token's `commands`: what to offer (the server decides). @param {ReadonlySet<string>} commands */
  setCommands(commands) {
    this.#commands = commands;
    for (const tile of this.#tileOf.values()) this.#offer(tile);
  }

  /** Shows the connection's state; `localNow` counts down to the next attempt. */
  setConnection(/** @type {ConnectionState} */ state, /** @type {number} */ localNow) {
    this.#state = state;
    this.#connection.dataset.state = state.state;
    this.#detail.textContent = state.close && state.state !== "connected" ? state.close.words : "";
    this.#tokenSubmit.textContent = state.state === "connected" ? "Use this token" : "Connect";
    this.tickConnection(localNow);
  }

  /** Updates the countdown to the next attempt. */
  tickConnection(/** @type {number} */ localNow) {
    const s = this.#state;
    if (!s) return;
    const wait = s.retryAt === undefined ? 0 : Math.ceil((s.retryAt - localNow) / 1000);
    const text = wait > 0 ? `${s.state} in ${wait} s` : s.state;
    if (this.#connection.textContent !== text) this.#connection.textContent = text;
  }

  /** Shows the broker link's state (`bridge_status`), or `unknown` before the first one. */
  /** Which serving process the page landed on (`connection_status.instance`). */
  setInstance(/** @type {string | undefined} */ instance) {
    this.#instance.textContent = instance ? `on ${instance.slice(0, 64)}` : "";
  }

  setBroker(/** @type {string | undefined} */ mqtt) {
    const state = mqtt === "connected" || mqtt === "disconnected" ? mqtt : "unknown";
    this.#broker.dataset.state = state;
    this.#broker.textContent = `broker ${state}`;
  }

  /**
   * Opens the token panel, with why a token is needed: the close that refused the last one (in
   * words, and the server's reason as sent), or a message.
   * Focuses its field when asked, or when a refusal left the page without a connection (but not
   * for a warning, which must not pull the keyboard away from what the user is doing).
   * @param {{ close?: CloseInfo, message?: string, focus?: boolean }} why
   */
  showToken(why) {
    const { close, message, focus = close !== undefined } = why;
    this.#tokenError.textContent = close
      ? `${close.words}${close.reason ? ` (server: "${close.reason}")` : ""}`
      : message ?? "";
    this.#tokenError.hidden = this.#tokenError.textContent === "";
    this.#panel.hidden = false;
    this.#tokenButton.setAttribute("aria-expanded", "true");
    if (focus) this.#tokenInput.focus();
  }

  /** Closes the token panel. */
  hideToken() {
    this.#panel.hidden = true;
    this.#tokenButton.setAttribute("aria-expanded", "false");
  }

  /** Sets (or with `undefined` clears) the notice under `key`; one line per key. */
  setNotice(/** @type {string} */ key, /** @type {string | undefined} */ text) {
    if (text === undefined) this.#notices.delete(key);
    else this.#notices.set(key, text);
    this.#notice.replaceChildren(...[...this.#notices.values()].map((t) => el("p", { text: t })));
    this.#notice.hidden = this.#notices.size === 0;
  }

  /** The colour scheme changed: recolour the tiles' swatches. */
  setDark(/** @type {boolean} */ dark) {
    this.#dark = dark;
    for (const [id, tile] of this.#tileOf) tile.swatch.style.backgroundColor = colorOf(id, dark);
  }

  /**
   * Renders the picker and the tiles: the list and order when sensors come or the selection
   * changes, and the values and status of the `changed` sensors.
   * @param {Model} model @param {Selection} selection @param {ReadonlySet<string>} changed
   * @param {number} serverNow
   */
  renderSensors(model, selection, changed, serverNow) {
    const ids = model.ids();
    if (ids !== this.#ids || selection !== this.#selection) {
      this.#ids = ids;
      this.#selection = selection;
      this.#list(model, ids, selection, serverNow);
      return;
    }
    for (const id of changed) {
      const tile = this.#tileOf.get(id);
      const sensor = model.sensor(id);
      if (tile && sensor && isShown(selection, id)) this.#fill(tile, sensor, serverNow);
    }
  }

  /**
   * @param {Tile} tile @param {Readonly<import("./state.js").Sensor>} sensor
   * @param {number} serverNow
   */
  #fill(tile, sensor, serverNow) {
    fillTile(tile, sensor, serverNow);
    fillValve(tile, this.#valves.valve(tile.id));
    fillMyCommand(tile, this.#valves.mine(tile.id));
  }

  /** @param {Tile} tile */
  #offer(tile) {
    offerIrrigate(tile, this.#commands.has("irrigate"));
    fillMyCommand(tile, this.#valves.mine(tile.id));
  }

  /** Moves every shown tile's age on. */
  tickAges(/** @type {Model} */ model, /** @type {number} */ serverNow) {
    for (const tile of this.#shownTiles) {
      const s = model.sensor(tile.id);
      if (s) tickAge(tile, s, serverNow);
    }
  }

  /**
   * The picker, the tiles (all of them filled) and the count, after the sensors or the selection
   * changed.
   * @param {Model} model @param {readonly string[]} ids @param {Selection} selection
   * @param {number} serverNow
   */
  #list(model, ids, selection, serverNow) {
    const shown = ids.filter((id) => isShown(selection, id));
    if (ids.length !== this.#boxOf.size || ids.some((id) => !this.#boxOf.has(id))) {
      this.#picks.replaceChildren(...ids.map((id) => this.#pick(id)));
    }
    for (const [id, box] of this.#boxOf) box.checked = isShown(selection, id);
    this.#selectAll.checked = selection === null;
    this.#selectAll.indeterminate = selection !== null && shown.length > 0;
    this.#shownTiles = shown.map((id) => this.#tileFor(id));
    for (const tile of this.#shownTiles) {
      const sensor = model.sensor(tile.id);
      if (sensor) this.#fill(tile, sensor, serverNow);
    }
    const before = this.#tiles.children;
    const same = before.length === shown.length &&
      this.#shownTiles.every((tile, i) => before[i] === tile.root);
    if (!same) this.#tiles.replaceChildren(...this.#shownTiles.map((tile) => tile.root));
    this.#empty.hidden = shown.length > 0;
    this.#count.textContent = selection === null
      ? `${ids.length} sensor${ids.length === 1 ? "" : "s"}`
      : `${shown.length} of ${ids.length} shown`;
  }

  /** The label of a sensor's box in the picker, made once. @param {string} id */
  #pick(id) {
    let box = this.#boxOf.get(id);
    if (!box) {
      box = /** @type {HTMLInputElement} */ (el("input", { testid: `select-${id}` }));
      box.type = "checkbox";
      box.value = id;
      el("label", { className: "pick" }, [box, document.createTextNode(` ${id}`)]);
      this.#boxOf.set(id, box);
    }
    return /** @type {HTMLElement} */ (box.parentElement);
  }

  /** A sensor's tile, made once. @param {string} id */
  #tileFor(id) {
    let tile = this.#tileOf.get(id);
    if (!tile) {
      tile = newTile(id);
      tile.swatch.style.backgroundColor = colorOf(id, this.#dark);
      this.#offer(tile);
      this.#tileOf.set(id, tile);
    }
    return tile;
  }
}
