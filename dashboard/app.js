// @ts-check
/// <reference lib="dom" />
/**
 * Boots the dashboard and wires its parts: the token (from the fragment, once, else this tab's
 * sessionStorage, else the token panel), the client, the models, the view and the charts.
 * Messages only change the model; the page follows on timers, so 50 sensors at 1 reading/s each
 * cost little: the tiles of sensors that changed at most four times a second, the ages and the
 * charts on one one-second tick (the charts only when there is something new to draw), and
 * nothing while the tab is hidden.
 * @module
 */
import { Charts } from "./charts.js";
import { DashboardClient } from "./client.js";
import { commandsOf } from "./commands.js";
import { WS_PATH } from "./protocol.js";
import { formatFragment, isShown, parseFragment, toggle } from "./selection.js";
import { Model, QUANTITIES } from "./state.js";
import { Valves } from "./valves.js";
import { View } from "./view.js";

/** @typedef {import("./selection.js").Selection} Selection */
/** @typedef {import("./state.js").Quantity} Quantity */

const TOKEN_KEY = "sensorstream.token";
/** Shortest time between two renderings of the tiles, ms. */
const TILES_MS = 250;
/** The tick of ages, the connection's countdown and the charts, ms. */
const TICK_MS = 1_000;

const model = new Model();
const valves = new Valves();
const dark = matchMedia("(prefers-color-scheme: dark)");
/** @type {Selection} */
let selection = null;
/** The pending rendering of the tiles (a timer), if any. */
/** @type {ReturnType<typeof setTimeout> | undefined} */
let tilesTimer;
let tilesAt = -Infinity;
/** The charts must be drawn at the next chance, whatever the time (selection, scheme, shown). */
let chartsStale = true;
let drawnAt = -Infinity;
/** How long the last chart draw took, ms. */
let drawCost = 0;

const view = new View({
  onToken: (token) => client.useToken(token),
  onSelect,
  onIrrigate: (id, seconds) => client.irrigate(id, seconds),
  valves,
});
const client = new DashboardClient(model, {
  url: (token) =>
    `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${WS_PATH}` +
    `?token=${encodeURIComponent(token)}`,
  selection: () => selection,
  onState(state) {
    view.setConnection(state, Date.now());
    // The broker's state is known only through a connection: say so while there is none.
    if (state.state !== "connected") view.setBroker(undefined);
  },
  onChange: schedule,
  onBroker: (mqtt) => view.setBroker(typeof mqtt === "string" ? mqtt : undefined),
  onInstance: (instance) => view.setInstance(typeof instance === "string" ? instance : undefined),
  onNotice: (key, text) => view.setNotice(key, text),
  onTokenNeeded: (why) => view.showToken(why),
  onToken(token) {
    storeToken(token);
    view.setCommands(commandsOf(token));
    if (token !== undefined) view.hideToken();
  },
  valves,
});

const UPlot = /** @type {any} */ (globalThis).uPlot;
const charts = UPlot
  ? new Charts(
    /** @type {Record<Quantity, HTMLElement>} */ (Object.fromEntries(
      QUANTITIES.map((q) => [q, slot(q)]),
    )),
    UPlot,
  )
  : undefined;

/** @param {Quantity} q */
function slot(q) {
  const el = document.querySelector(`[data-testid="chart-${q}"] .plot`);
  if (!(el instanceof HTMLElement)) throw new Error(`The page lacks the ${q} chart`);
  return el;
}

/** @param {string | null} id @param {boolean} on */
function onSelect(id, on) {
  selection = id === null ? (on ? null : new Set()) : toggle(selection, model.ids(), id, on);
  showFragment();
  changedSelection();
}

function changedSelection() {
  chartsStale = true;
  schedule();
  client.sync();
}

/** Takes the fragment: the selection, and a token once (then kept out of the address bar). */
function takeFragment() {
  const { token, sensors } = parseFragment(location.hash);
  selection = sensors;
  showFragment();
  return token;
}

function showFragment() {
  history.replaceState(null, "", location.pathname + location.search + formatFragment(selection));
}

/** @param {string | undefined} token */
function storeToken(token) {
  try {
    if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Something changed: the tiles follow within {@link TILES_MS} (when the page is seen). */
function schedule() {
  if (tilesTimer !== undefined || document.hidden) return;
  tilesTimer = setTimeout(renderTiles, Math.max(0, tilesAt + TILES_MS - performance.now()));
}

function renderTiles() {
  clearTimeout(tilesTimer);
  tilesTimer = undefined;
  client.sync();
  if (document.hidden) return;
  tilesAt = performance.now();
  const changed = model.takeChanged();
  for (const id of valves.takeChanged()) changed.add(id);
  view.renderSensors(model, selection, changed, model.serverNow(Date.now()));
  if (chartsStale) drawCharts();
}

/** Ages, the countdown to the next attempt, pruning, and the charts: once a second. */
function tick() {
  const now = Date.now();
  const serverNow = model.serverNow(now);
  model.prune(serverNow);
  if (valves.expire(now)) schedule();
  client.sync();
  if (document.hidden) return;
  view.tickConnection(now);
  // Tiles due soon are rendered now, with the ages: one rendering of the page, not two.
  if (tilesTimer !== undefined) renderTiles();
  view.tickAges(model, serverNow);
  drawCharts();
}

/**
 * Redraws the charts when they have something new to show, but never spends more than a tenth
 * of the time drawing: many sensors make a draw dearer, and rarer.
 */
function drawCharts() {
  if (!charts) return;
  const now = performance.now();
  // A little early is on time: the tick's timer fires a few ms either side of the second.
  if (!chartsStale && now - drawnAt < Math.max(TICK_MS, drawCost * 10) - TICK_MS / 4) return;
  const shown = model.ids().filter((id) => isShown(selection, id));
  if (charts.draw(model, shown, model.serverNow(Date.now()), { dark: dark.matches })) {
    drawCost = performance.now() - now;
    drawnAt = now;
  }
  chartsStale = false;
}

// For tests: a copy of what the charts are drawn from.
Object.defineProperty(globalThis, "__sensorstream", {
  value: Object.freeze({
    series: (/** @type {Quantity} */ quantity, /** @type {string} */ id) =>
      model.series(quantity, id),
    sensors: () => model.ids(),
  }),
});

view.setBroker(undefined);
view.setDark(dark.matches);
const token = takeFragment() ?? storedToken();
if (token) client.start(token);
else {
  view.setConnection({ state: "disconnected", close: undefined, retryAt: undefined }, Date.now());
  view.showToken({
    message: "Paste a token to connect, or open this page as /#token=…",
    focus: true,
  });
}
schedule();

addEventListener("hashchange", () => {
  const token = takeFragment();
  if (token) client.useToken(token);
  changedSelection();
});
addEventListener("online", () => client.retryNow());
document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  client.retryNow();
  // Back in sight: catch up at once on what came while hidden.
  chartsStale = true;
  renderTiles();
  tick();
});
dark.addEventListener("change", () => {
  view.setDark(dark.matches);
  chartsStale = true;
  schedule();
});
const chartsSection = document.getElementById("charts");
if (chartsSection) {
  new ResizeObserver(() => {
    charts?.resize();
    chartsStale = true;
    schedule();
  }).observe(chartsSection);
}
setInterval(tick, TICK_MS);
