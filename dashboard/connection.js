// @ts-check
/**
 * The page's WebSocket client: connects with the token in `?token=` (a browser cannot set
 * headers on a WebSocket), sends what the page asks for as the socket opens (history, so a
 * reconnect fills its gap), hands every server message on, and after a close does what the close
 * table says: reconnect with backoff, back off longer, or stop until the user gives another
 * token. The WebSocket constructor, timers, clock and randomness are injected, so it is tested
 * in Deno against a real server or a fake socket.
 * @module
 */
import { describeClose, NO_ANSWER } from "./closes.js";

/** @typedef {import("./closes.js").CloseInfo} CloseInfo */

/**
 * The connection's state, for the status bar.
 * @typedef {object} ConnectionState
 * @property {"connecting" | "connected" | "reconnecting" | "disconnected"} state
 * @property {CloseInfo | undefined} close How the last connection ended, when it did.
 * @property {number | undefined} retryAt When the next attempt starts (the `now()` clock).
 */

/**
 * A server message, as parsed: its type, data and the server's timestamp.
 * @typedef {{ type: string, data: any, timestamp: string }} ServerMessage
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {(token: string) => string} url The WebSocket URL carrying the token.
 * @property {() => unknown[]} onOpen Messages to send as the socket opens.
 * @property {(message: ServerMessage) => void} onMessage Every server message.
 * @property {(state: ConnectionState) => void} onState Every state change.
 * @property {{ new (url: string): WebSocket }} [WebSocket]
 * @property {(fn: () => void, ms: number) => unknown} [setTimeout]
 * @property {(handle: unknown) => void} [clearTimeout]
 * @property {() => number} [now] Clock, ms.
 * @property {() => number} [random] In [0, 1): jitters the delays.
 * @property {number} [minDelayMs] First reconnect delay before jitter (default 1 s).
 * @property {number} [maxDelayMs] Longest reconnect delay (default 30 s).
 * @property {number} [keepaliveMs] Silence after which a `ping` goes out; twice this without any
 *   message drops the connection (default 20 s). The server pings too, but a browser cannot see
 *   those, nor always notice a network that went away.
 * @property {number} [handshakeMs] Longest wait for the socket to open (default 10 s).
 */

/** Backoff step a "try again later" close starts from (4-8 s with the defaults). */
const LATER_ATTEMPT = 3;

/**
 * Delay before retry number `attempt` (0 = first): `min * 2^attempt` capped at `max`, with
 * "equal jitter" (a random point in the upper half) so many pages do not return at once.
 * @param {number} attempt @param {{ minMs: number, maxMs: number, random: () => number }} o
 */
export function backoffDelay(attempt, o) {
  const base = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * o.random());
}

/** One page's connection to the stream, across reconnects. */
export class Connection {
  #o;
  /** @type {WebSocket | undefined} */
  #ws;
  /** @type {string | undefined} */
  #token;
  /** @type {unknown} */
  #timer;
  /** @type {unknown} */
  #keepalive;
  #attempt = 0;
  #admitted = false;
  #everAdmitted = false;
  #lastHeard = 0;
  /** @type {ConnectionState} */
  #state = { state: "disconnected", close: undefined, retryAt: undefined };

  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.#o = {
      WebSocket: globalThis.WebSocket,
      setTimeout: (/** @type {() => void} */ fn, /** @type {number} */ ms) => setTimeout(fn, ms),
      clearTimeout: (/** @type {any} */ h) => clearTimeout(h),
      now: Date.now,
      random: Math.random,
      minDelayMs: 1_000,
      maxDelayMs: 30_000,
      keepaliveMs: 20_000,
      handshakeMs: 10_000,
      ...options,
    };
  }

  /** The current state. */
  get state() {
    return this.#state;
  }

  /** Connects now with `token` (closing any connection there is), and keeps connecting. */
  start(/** @type {string} */ token) {
    this.#drop();
    this.#token = token;
    this.#attempt = 0;
    // A fresh start: the last close (a refused token, say) is history.
    this.#state = { state: "disconnected", close: undefined, retryAt: undefined };
    this.#connect();
  }

  /** The token to use from now on (a refresh was accepted), without reconnecting. */
  setToken(/** @type {string} */ token) {
    this.#token = token;
  }

  /** When waiting to reconnect, tries now (the network came back, the page became visible). */
  retryNow() {
    if (this.#ws === undefined && this.#token !== undefined && this.#timer !== undefined) {
      this.#clearTimer();
      this.#connect();
    }
  }

  /** Closes and stays closed. */
  stop() {
    this.#drop();
    this.#token = undefined;
    this.#setState({ state: "disconnected", close: undefined, retryAt: undefined });
  }

  /** Sends a message when admitted; false when there is no connection to send it on. */
  send(/** @type {unknown} */ message) {
    if (!this.#ws || this.#ws.readyState !== 1) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  #connect() {
    this.#timer = undefined;
    const token = this.#token;
    if (token === undefined) return;
    const { WebSocket: Socket, now } = this.#o;
    this.#setState({
      state: this.#everAdmitted ? "reconnecting" : "connecting",
      close: this.#state.close,
      retryAt: undefined,
    });
    const ws = new Socket(this.#o.url(token));
    this.#ws = ws;
    this.#admitted = false;
    this.#lastHeard = now();
    this.#timer = this.#o.setTimeout(() => this.#abandon(), this.#o.handshakeMs);
    ws.onopen = () => {
      this.#clearTimer();
      for (const message of this.#o.onOpen()) ws.send(JSON.stringify(message));
      this.#watch();
    };
    ws.onmessage = (event) => this.#received(event.data);
    ws.onclose = (event) => this.#closed(describeClose(event.code, event.reason));
  }

  /** @param {unknown} text */
  #received(text) {
    this.#lastHeard = this.#o.now();
    if (typeof text !== "string") return;
    /** @type {unknown} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    const m = /** @type {ServerMessage} */ (message);
    if (typeof m.type !== "string") return;
    if (m.type === "connection_status" && !this.#admitted) {
      this.#admitted = true;
      this.#everAdmitted = true;
      this.#attempt = 0;
      this.#setState({ state: "connected", close: undefined, retryAt: undefined });
    }
    this.#o.onMessage(m);
  }

  /** @param {CloseInfo} close */
  #closed(close) {
    this.#clearTimer();
    this.#detach();
    if (close.retry === "stop") {
      this.#token = undefined;
      this.#setState({ state: "disconnected", close, retryAt: undefined });
      return;
    }
    if (close.retry === "backoff") this.#attempt = Math.max(this.#attempt, LATER_ATTEMPT);
    const wait = backoffDelay(this.#attempt++, {
      minMs: this.#o.minDelayMs,
      maxMs: this.#o.maxDelayMs,
      random: this.#o.random,
    });
    this.#timer = this.#o.setTimeout(() => this.#connect(), wait);
    this.#setState({
      state: this.#everAdmitted ? "reconnecting" : "connecting",
      close,
      retryAt: this.#o.now() + wait,
    });
  }

  /** Pings after a silence, and drops a connection that stays silent. */
  #watch() {
    const { keepaliveMs, now } = this.#o;
    this.#keepalive = this.#o.setTimeout(() => {
      const silent = now() - this.#lastHeard;
      if (silent >= 2 * keepaliveMs) return this.#abandon();
      if (silent >= keepaliveMs) this.send({ type: "ping" });
      this.#watch();
    }, keepaliveMs / 2);
  }

  /** Gives up on a socket that does not open or answer: its close event may come much later. */
  #abandon() {
    this.#drop();
    this.#closed(describeClose(NO_ANSWER, ""));
  }

  /** Closes the socket, if any, without hearing from it again. */
  #drop() {
    const ws = this.#ws;
    this.#clearTimer();
    this.#detach();
    if (ws && ws.readyState < 2) ws.close(1000);
  }

  #detach() {
    if (this.#ws) {
      this.#ws.onopen = this.#ws.onmessage = this.#ws.onclose = null;
    }
    this.#ws = undefined;
    this.#admitted = false;
    if (this.#keepalive !== undefined) this.#o.clearTimeout(this.#keepalive);
    this.#keepalive = undefined;
  }

  #clearTimer() {
    if (this.#timer !== undefined) this.#o.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** @param {ConnectionState} state */
  #setState(state) {
    this.#state = state;
    this.#o.onState(state);
  }
}
