// @ts-check
/// <reference lib="dom" />
/**
 * One sensor's tile: built once, then written in place. Every value, the status and the age is a
 * text node of its own, set only when its text changes, so a reading costs the browser a repaint
 * of a few characters, not a new tile; and an unchanged value costs nothing. Below the values,
 * the valve's state (from `command_event`) and, when the token may irrigate, the Irrigate
 * control with what became of this page's last command.
 * @module
 */
import { DURATION } from "./commands.js";
import { formatAge, LABELS, QUANTITIES } from "./state.js";
import { myCommandText, VALVE_WORDS } from "./valves.js";

/** @typedef {import("./state.js").Quantity} Quantity */
/** @typedef {Readonly<import("./state.js").Sensor>} Sensor */
/** @typedef {import("./valves.js").Valve} Valve */
/** @typedef {import("./valves.js").MyCommand} MyCommand */
/**
 * @typedef {object} Tile
 * @property {string} id
 * @property {HTMLElement} root
 * @property {HTMLElement} swatch
 * @property {Text} badge
 * @property {Text} age
 * @property {Record<Quantity, Text>} values
 * @property {{ root: HTMLElement, words: Text, by: Text }} valve
 * @property {Control | undefined} control The Irrigate form, made when first offered.
 */
/**
 * @typedef {object} Control
 * @property {HTMLFormElement} form
 * @property {HTMLInputElement} input
 * @property {HTMLButtonElement} button
 * @property {Text} status
 */

/**
 * An element with a class, text, `data-testid` and children.
 * @param {string} tag @param {{ className?: string, text?: string, testid?: string }} [o]
 * @param {Node[]} [children]
 */
export function el(tag, o = {}, children = []) {
  const e = document.createElement(tag);
  if (o.className) e.className = o.className;
  if (o.text !== undefined) e.textContent = o.text;
  if (o.testid) e.dataset.testid = o.testid;
  e.append(...children);
  return e;
}

/** @param {string} text */
function textNode(text) {
  return document.createTextNode(text);
}

/**
 * Sets a text node's text when it differs: the browser lays out and paints only what changed.
 * @param {Text} node @param {string} text
 */
function setText(node, text) {
  if (node.data !== text) node.data = text;
}

/** A tile for sensor `id`, without values yet. @param {string} id @returns {Tile} */
export function newTile(id) {
  const swatch = el("span", { className: "swatch" });
  const badge = textNode("");
  const age = textNode("–");
  /** @type {Partial<Record<Quantity, Text>>} */
  const values = {};
  const rows = QUANTITIES.map((q) => {
    const value = textNode("–");
    values[q] = value;
    return el("div", {}, [
      el("dt", { text: LABELS[q].label }),
      el("dd", {}, [
        el("span", { className: "value", testid: q }, [value]),
        el("span", { className: "unit", text: LABELS[q].unit }),
      ]),
    ]);
  });
  const status = el("span", { className: "badge", testid: "status" }, [badge]);
  const valve = { words: textNode(""), by: textNode("") };
  // The sender's name is the peer's text: isolated, its bidi controls reorder nothing else.
  const valveRoot = el("p", { className: "valve", testid: "valve" }, [
    valve.words,
    textNode(" — by "),
    el("bdi", {}, [valve.by]),
  ]);
  valveRoot.hidden = true;
  const root = el("article", { className: "tile", testid: `tile-${id}` }, [
    el("h3", {}, [swatch, textNode(id), status]),
    el("dl", {}, rows),
    el("p", { className: "age" }, [el("span", { testid: "age" }, [age]), textNode(" ago")]),
    valveRoot,
  ]);
  root.setAttribute("aria-label", `Sensor ${id}`);
  return {
    id,
    root,
    badge,
    swatch,
    age,
    values: /** @type {Record<Quantity, Text>} */ (values),
    valve: { root: valveRoot, ...valve },
    control: undefined,
  };
}

/**
 * Writes what changed of a sensor's values, status and age into its tile.
 * @param {Tile} tile @param {Sensor} sensor @param {number} serverNow
 */
export function fillTile(tile, sensor, serverNow) {
  if (tile.root.dataset.status !== sensor.status) tile.root.dataset.status = sensor.status;
  setText(tile.badge, sensor.status);
  for (const q of QUANTITIES) {
    // As received: JSON numbers print back as the server wrote them.
    setText(tile.values[q], sensor.latest ? String(sensor.latest[q]) : "–");
  }
  tickAge(tile, sensor, serverNow);
}

/** Sets a `data-` attribute when it differs. @param {HTMLElement} e @param {string} k @param {string} v */
function setData(e, k, v) {
  if (e.dataset[k] !== v) e.dataset[k] = v;
}

/** Moves a tile's age on. @param {Tile} tile @param {Sensor} sensor @param {number} serverNow */
export function tickAge(tile, sensor, serverNow) {
  setText(tile.age, ageText(sensor.latestMs, serverNow));
}

/** @param {number} at @param {number} serverNow */
function ageText(at, serverNow) {
  return Number.isFinite(at) ? formatAge(serverNow - at) : "–";
}

/**
 * Shows a sensor's valve (`data-valve` picks the icon and colour), or hides the line.
 * @param {Tile} tile @param {Readonly<Valve> | undefined} valve
 */
export function fillValve(tile, valve) {
  const v = tile.valve;
  v.root.hidden = !valve;
  setData(v.root, "valve", valve?.status ?? "");
  setText(v.words, valve ? VALVE_WORDS[valve.status] : "");
  setText(v.by, valve?.by ?? "");
}

/**
 * Offers the Irrigate control, made on first use, or takes it away.
 * @param {Tile} tile @param {boolean} offered
 */
export function offerIrrigate(tile, offered) {
  if (offered) tile.control ??= newControl(tile);
  if (tile.control) tile.control.form.hidden = !offered;
}

/**
 * Shows this page's last command under the Irrigate button, which says it is busy while one is on
 * its way (`aria-disabled` keeps the focus, unlike `disabled`).
 * @param {Tile} tile @param {Readonly<MyCommand> | undefined} mine
 */
export function fillMyCommand(tile, mine) {
  const c = tile.control;
  if (!c) return;
  setText(c.status, mine ? myCommandText(mine) : "");
  setData(c.form, "command", mine?.status ?? "");
  const busy = mine?.status === "sending" || mine?.status === "sent";
  if (c.button.ariaDisabled !== String(busy)) c.button.ariaDisabled = String(busy);
}

/**
 * The form. The browser holds the duration to whole seconds in range, and says what is wrong.
 * @param {Tile} tile @returns {Control}
 */
function newControl(tile) {
  const id = `irrigate-${tile.id}`;
  const input = /** @type {HTMLInputElement} */ (el("input", { testid: "irrigate-duration" }));
  Object.assign(input, { id, type: "number", step: 1, required: true, ...DURATION });
  const label = /** @type {HTMLLabelElement} */ (el("label", { text: "Seconds" }));
  label.htmlFor = id;
  const button = /** @type {HTMLButtonElement} */ (el("button", { text: "Irrigate" }));
  button.type = "submit";
  button.dataset.testid = "irrigate";
  button.setAttribute("aria-label", `Irrigate ${tile.id}`);
  const status = textNode("");
  // A live region: the answer to what the user just asked for.
  const out = el("p", { className: "command-status", testid: "command-status" }, [status]);
  out.id = `${id}-status`;
  out.setAttribute("role", "status");
  input.setAttribute("aria-describedby", out.id);
  const form = /** @type {HTMLFormElement} */ (
    el("form", { className: "command" }, [
      el("div", { className: "row" }, [label, input, button]),
      out,
    ])
  );
  form.dataset.sensor = tile.id;
  tile.root.append(form);
  return { form, input, button, status };
}
