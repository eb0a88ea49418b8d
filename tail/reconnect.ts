/**
 * The tail client's reconnect decision, apart from sockets and timers: after each connection
 * closes, either the error that ends the run or how long to wait and what to say meanwhile.
 * Close frames are judged by the close table (through `describeEnd`); what is left here is
 * the client's own policy: the connect deadline, the backoff, and renewing a minted token.
 * @module
 */
import { CloseCode, CloseReason, type Retry } from "../protocol/mod.ts";
import { backoffDelay } from "./backoff.ts";
import { type CloseFrame, describeEnd, type EndDescription } from "./close_info.ts";
import { TailError } from "./errors.ts";
import type { SessionEnd } from "./session.ts";

/** A connection the server or the network closed. */
export type ClosedEnd = Extract<SessionEnd, { kind: "closed" }>;

/** What to do after a connection closed. */
export type Next =
  | { kind: "stop"; error: TailError; detail: string }
  | {
    kind: "retry";
    /** Wait this long before the next connection, ms. */
    waitMs: number;
    /** `reconnecting` once a connection carried messages. */
    state: "connecting" | "reconnecting";
    /** Why, and when the next attempt comes, for the user. */
    detail: string;
  };

/** Options of {@link ReconnectPolicy}. */
export interface ReconnectOptions {
  /** The stream URL as shown to the user, control characters escaped. */
  shown: string;
  /** Give up when the first connection is not up within this; also bounds each handshake. */
  connectTimeoutMs: number;
  /** First reconnect delay (see {@link backoffDelay}). */
  reconnectMinMs?: number | undefined;
  /** Longest reconnect delay. */
  reconnectMaxMs?: number | undefined;
  /** A fresh token is minted for every connection, so an expired one is renewed by reconnecting. */
  renewable: boolean;
  /** Clock in ms. */
  now: () => number;
  /** In [0, 1): jitters the delays. */
  random: () => number;
}

/** Least time the first connection's final attempt gets, ms. */
const LAST_ATTEMPT_MS = 250;
/**
 * Backoff step a `backoff` close starts from: 4x the first delay (0.5-1 s by default), and it
 * never resets the backoff, as a normal reconnect after readings does.
 */
const TRY_LATER_ATTEMPT = 2;

/** Decides, connection after connection, whether and when the tail client tries again. */
export class ReconnectPolicy {
  readonly #o: ReconnectOptions;
  readonly #deadline: number;
  /** A handshake completed: the server is up, so the connect deadline no longer applies. */
  #everOpened = false;
  /** A connection carried messages: later ones are reconnects. */
  #everConnected = false;
  #attempt = 0;

  /** Starts the connect deadline now. */
  constructor(options: ReconnectOptions) {
    this.#o = options;
    this.#deadline = options.now() + options.connectTimeoutMs;
  }

  /** How long the next handshake may take, ms. */
  handshakeMs(): number {
    const { connectTimeoutMs, now } = this.#o;
    if (this.#everOpened) return connectTimeoutMs;
    // The last attempt before the deadline still gets a fair slice, so its error is the
    // server's answer ("connection refused") rather than our own timer.
    return Math.max(Math.min(LAST_ATTEMPT_MS, connectTimeoutMs), this.#deadline - now());
  }

  /** After `end`: the error that ends the run, or how long to wait before the next connection. */
  after(end: ClosedEnd): Next {
    this.#everOpened ||= end.opened;
    this.#everConnected ||= end.received > 0;
    const about = describeEnd(end);
    const retry = this.#renews(end, about) ? "reconnect" : about.retry;
    const error = this.#finalError(about, retry);
    if (error) return { kind: "stop", error, detail: about.text };
    return this.#retry(end, about, retry);
  }

  /**
   * Getting a token for the next connection failed (`reason`, escaped): once a connection was
   * up, retry with backoff, as after a lost connection; before that, `undefined` (the run
   * ends with the error: the token source does not work at all).
   */
  afterTokenFailure(reason: string): Extract<Next, { kind: "retry" }> | undefined {
    if (!this.#everOpened) return undefined;
    const { reconnectMinMs, reconnectMaxMs, random } = this.#o;
    const wait = backoffDelay(this.#attempt++, {
      minMs: reconnectMinMs,
      maxMs: reconnectMaxMs,
      random,
    });
    return {
      kind: "retry",
      waitMs: wait,
      state: this.#everConnected ? "reconnecting" : "connecting",
      detail: `cannot get a token: ${reason}; retrying in ${(wait / 1_000).toFixed(1)}s`,
    };
  }

  /** A token we mint ourselves is renewed on reconnect when it expired while streaming. */
  #renews(end: ClosedEnd, about: EndDescription): boolean {
    return this.#o.renewable && end.received > 0 &&
      about.close?.reason === CloseReason.TOKEN_EXPIRED;
  }

  #finalError(about: EndDescription, retry: Retry): TailError | undefined {
    if (about.close && retry === "stop") return refusal(about, about.close);
    const gaveUp = !this.#everOpened && this.#o.now() >= this.#deadline;
    if (retry !== "stop" && !gaveUp) return undefined;
    const hint = about.hint ? ` ${about.hint}` : "";
    const after = retry === "stop" ? "" : ` (gave up after ${this.#o.connectTimeoutMs / 1_000}s)`;
    return new TailError(
      "unreachable",
      `Cannot connect to ${this.#o.shown}: ${about.text}.${hint}${after}`,
    );
  }

  #retry(end: ClosedEnd, about: EndDescription, retry: Retry): Next {
    const { reconnectMinMs, reconnectMaxMs, random, now } = this.#o;
    if (retry === "backoff") this.#attempt = Math.max(this.#attempt, TRY_LATER_ATTEMPT);
    else if (end.received > 0) this.#attempt = 0;
    let wait = backoffDelay(this.#attempt++, {
      minMs: reconnectMinMs,
      maxMs: reconnectMaxMs,
      random,
    });
    if (!this.#everOpened) wait = Math.max(0, Math.min(wait, this.#deadline - now()));
    const what = end.received > 0 ? `connection lost: ${about.text}` : about.text;
    return {
      kind: "retry",
      waitMs: wait,
      state: this.#everConnected ? "reconnecting" : "connecting",
      detail: `${what}; retrying in ${(wait / 1_000).toFixed(1)}s`,
    };
  }
}

/** The server closed and its close table says not to retry: say why and what to do. */
function refusal(about: EndDescription, close: CloseFrame): TailError {
  const hint = about.hint ? ` (${about.hint})` : "";
  return new TailError(
    close.code === CloseCode.POLICY_VIOLATION ? "auth" : "refused",
    `Server closed the connection: ${about.text}${hint}`,
    { closeReason: close.reason },
  );
}
