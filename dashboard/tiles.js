// @ts-check
/// <reference lib="dom" />
/**
 * One sensor's tile: built once, then written in place. Every value, the status and the age is a
 * text node of its own, set only when its text changes, so a reading costs the browser a repaint
 * of a few characters, not a new tile; and an unchanged value costs nothing.
 * @module
 */
import { formatAge, LABELS, QUANTITIES } from "./state.js";

/** @typedef {import("./state.js").Quantity} Quantity */
/** @typedef {Readonly<import("./state.js").Sensor>} Sensor */
/**
 * @typedef {object} Tile
 * @property {string} id
 * @property {HTMLElement} root
 * @property {HTMLElement} swatch
 * @property {Text} badge
 * @property {Text} age
 * @property {Record<Quantity, Text>} values
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
  const root = el("article", { className: "tile", testid: `tile-${id}` }, [
    el("h3", {}, [swatch, textNode(id), status]),
    el("dl", {}, rows),
    el("p", { className: "age" }, [el("span", { testid: "age" }, [age]), textNode(" ago")]),
  ]);
  root.setAttribute("aria-label", `Sensor ${id}`);
  return {
    id,
    root,
    badge,
    swatch,
    age,
    values: /** @type {Record<Quantity, Text>} */ (values),
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

/** Moves a tile's age on. @param {Tile} tile @param {Sensor} sensor @param {number} serverNow */
export function tickAge(tile, sensor, serverNow) {
  setText(tile.age, ageText(sensor.latestMs, serverNow));
}

/** @param {number} at @param {number} serverNow */
function ageText(at, serverNow) {
  return Number.isFinite(at) ? formatAge(serverNow - at) : "–";
}
