/**
 * The `tail` WebSocket client: connects with a token (in the `Authorization` header), hands
 * every server message to the caller, reconnects with jittered exponential backoff when the
 * connection drops or the server says "try again later" (1013), and stops after `count`
 * readings, on abort, or on a policy close (1008).
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import { CloseCode, CloseReason, type ServerMessage } from "../protocol/mod.ts";
import { backoffDelay } from "./backoff.ts";
import { CappedMap, MAX_SENSORS } from "./capped_map.ts";
import { describeEnd, type EndDescription } from "./close_info.ts";
import { abortableSleep, session, type SessionEnd, type Shared } from "./session.ts";
import { displayUrl, streamUrl } from "./url.ts";

/** Why a run failed: the server refused us (`auth`, close 1008) or could not be reached. */
export type TailErrorKind = "auth" | "unreachable";

/** A run that cannot go on; the CLI prints `message` and exits 1. */
export class TailError extends Error {
  /** What went wrong. */
  readonly kind: TailErrorKind;
  /** The server's close reason for `auth` (e.g. `token expired`), as sent: escape to print. */
  readonly closeReason: string | undefined;
  /** Creates a tail error; `message` says what failed and what to do. */
  constructor(kind: TailErrorKind, message: string, options?: { closeReason?: string }) {
    super(message);
    this.name = "TailError";
    this.kind = kind;
    this.closeReason = options?.closeReason;
  }
}

/** Where the client is; `closed` is final. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** Options of {@link runTail}. */
export interface TailOptions {
  /** WebSocket endpoint, e.g. `ws://localhost:8000/ws/sensors`; a `?token=` in it is dropped. */
  url: string;
  /**
   * A token, or a function asked for one before every connection (e.g. to mint a fresh one);
   * sent as `Authorization: Bearer <token>`.
   */
  token: string | (() => string | Promise<string>);
  /** Only these sensors (sent as `?sensors=`); omitted = all the token may see. */
  sensors?: readonly string[] | undefined;
  /** Stop after this many readings. */
  count?: number | undefined;
  /** Give up when the first connection is not up within this; also bounds each reconnect. */
  connectTimeoutMs: number;
  /** First reconnect delay. Default 250 ms; doubles per failure. */
  reconnectMinMs?: number | undefined;
  /** Longest reconnect delay. Default 5000 ms. */
  reconnectMaxMs?: number | undefined;
  /** Aborting closes the connection and resolves with `aborted`. */
  signal?: AbortSignal | undefined;
  /** Sensors whose last reading is remembered to drop replays. Default {@link MAX_SENSORS}. */
  maxSensors?: number | undefined;
}

/**
 * What the client reports to its caller. Exceptions thrown here end the run with them. Texts
 * from the server (`raw`, message fields) are as sent: escape them before printing (details
 * of `onState` already are).
 */
export interface TailEvents {
  /** A server message, parsed, and its raw text exactly as received. */
  onMessage(msg: ServerMessage, raw: string): void;
  /** A state change, with a human detail (why it failed, when it retries). */
  onState(state: ConnectionState, detail?: string): void;
  /** A text frame that is not a known server message (e.g. from a newer server). */
  onUnknown?(raw: string, problem: string): void;
}

/** Injected time and randomness, for tests. */
export interface TailDeps {
  /** In [0, 1): jitters reconnect delays. Default `Math.random`. */
  random?: () => number;
  /** Waits `ms` or until `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

/** How a run ended normally. */
export interface TailResult {
  reason: "count" | "aborted";
  /** Readings handed to `onMessage`. */
  readings: number;
}

/** Least time the first connection's final attempt gets, ms. */
const LAST_ATTEMPT_MS = 250;
/**
 * Backoff step a "try again later" (1013) starts from: 4x the first delay (0.5-1 s by
 * default), and a 1013 never resets the backoff, as a normal reconnect after readings does.
 */
const TRY_LATER_ATTEMPT = 2;

/**
 * Streams from the server until `count` readings, abort, or a fatal close. Rejects with
 * {@link TailError} on a policy close (`auth`), or (`unreachable`) when the first connection
 * is not up within `connectTimeoutMs` or the server answers HTTP 4xx (429 excepted). A
 * "try again later" (1013) is retried with a longer backoff. Readings the server replays
 * after a reconnect are passed on only once.
 */
export async function runTail(
  options: TailOptions,
  events: TailEvents,
  deps: TailDeps = {},
): Promise<TailResult> {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? abortableSleep;
  const shown = escapeControl(displayUrl(options.url));
  const url = streamUrl(options.url, options.sensors);
  const deadline = now() + options.connectTimeoutMs;
  const shared: Shared = {
    readings: 0,
    lastRaw: new CappedMap(options.maxSensors ?? MAX_SENSORS),
  };
  /** A handshake completed: the server is up, so the connect deadline no longer applies. */
  let everOpened = false;
  /** A connection carried messages: later ones are reconnects. */
  let everConnected = false;
  let attempt = 0;
  events.onState("connecting");
  while (true) {
    if (options.signal?.aborted) return finish("aborted");
    const token = typeof options.token === "function" ? await options.token() : options.token;
    // The last attempt before the deadline still gets a fair slice, so its error is the
    // server's answer ("connection refused") rather than our own timer.
    const timeoutMs = everOpened
      ? options.connectTimeoutMs
      : Math.max(Math.min(LAST_ATTEMPT_MS, options.connectTimeoutMs), deadline - now());
    const end = await session(url, { token, timeoutMs }, options, events, shared);
    if (end.kind === "error") throw end.error;
    if (end.kind === "done") return finish(end.reason);
    everOpened ||= end.opened;
    everConnected ||= end.received > 0;
    const about = describeEnd(end);
    const final = finalError(end, about, {
      shown,
      renewable: typeof options.token === "function",
      gaveUpAfterMs: !everOpened && now() >= deadline ? options.connectTimeoutMs : undefined,
    });
    if (final) {
      events.onState("closed", about.text);
      throw final;
    }
    if (about.retryLater) attempt = Math.max(attempt, TRY_LATER_ATTEMPT);
    else if (end.received > 0) attempt = 0;
    let wait = backoffDelay(attempt++, {
      minMs: options.reconnectMinMs,
      maxMs: options.reconnectMaxMs,
      random,
    });
    if (!everOpened) wait = Math.max(0, Math.min(wait, deadline - now()));
    const what = end.received > 0 ? `connection lost: ${about.text}` : about.text;
    events.onState(
      everConnected ? "reconnecting" : "connecting",
      `${what}; retrying in ${(wait / 1_000).toFixed(1)}s`,
    );
    await sleep(wait, options.signal);
  }

  function finish(reason: TailResult["reason"]): TailResult {
    events.onState("closed", reason === "count" ? `${shared.readings} readings` : "stopped");
    return { reason, readings: shared.readings };
  }
}

/** The error that ends the run after `end`, or `undefined` to retry. */
function finalError(
  end: Extract<SessionEnd, { kind: "closed" }>,
  about: EndDescription,
  context: { shown: string; renewable: boolean; gaveUpAfterMs: number | undefined },
): TailError | undefined {
  if (end.opened && end.code === CloseCode.POLICY_VIOLATION) {
    // A token we mint ourselves is renewed on reconnect; any other refusal is final.
    const renew = context.renewable && end.received > 0 &&
      end.reason === CloseReason.TOKEN_EXPIRED;
    if (!renew) return new TailError("auth", authMessage(about.text), { closeReason: end.reason });
  }
  if (!about.fatal && context.gaveUpAfterMs === undefined) return undefined;
  const hint = about.hint ? ` ${about.hint}` : "";
  const gaveUp = about.fatal ? "" : ` (gave up after ${context.gaveUpAfterMs! / 1_000}s)`;
  return new TailError(
    "unreachable",
    `Cannot connect to ${context.shown}: ${about.text}.${hint}${gaveUp}`,
  );
}

function authMessage(reason: string): string {
  const hint = reason === CloseReason.INVALID_TOKEN
    ? " (was it signed with the secret serve uses? get one with `sensorstream token --sub me`)"
    : reason === CloseReason.TOKEN_EXPIRED || reason === CloseReason.MISSING_TOKEN
    ? " (get a fresh one with `sensorstream token --sub me`)"
    : "";
  return `Server closed the connection: ${reason}${hint}`;
}
