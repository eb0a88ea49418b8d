/**
 * The `tail` WebSocket client: connects with a token, hands every server message to the
 * caller, reconnects with jittered exponential backoff when the connection drops, and
 * stops after `count` readings, on abort, or on a policy close (1008).
 * @module
 */
import {
  CloseCode,
  CloseReason,
  type ServerMessage,
  ServerMessageSchema,
} from "../server/protocol.ts";
import { backoffDelay } from "./backoff.ts";
import { describeEnd, type Ended } from "./close_info.ts";
import { displayUrl, streamUrl } from "./url.ts";

/** Why a run failed: the server refused us (`auth`, close 1008) or could not be reached. */
export type TailErrorKind = "auth" | "unreachable";

/** A run that cannot go on; the CLI prints `message` and exits 1. */
export class TailError extends Error {
  /** What went wrong. */
  readonly kind: TailErrorKind;
  /** The server's close reason for `auth` (e.g. `token expired`). */
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
  /** WebSocket endpoint without a token, e.g. `ws://localhost:8000/ws/sensors`. */
  url: string;
  /** A token, or a function asked for one before every connection (e.g. to mint a fresh one). */
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
}

/** What the client reports to its caller. Exceptions thrown here end the run with them. */
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

/** One connection's end, plus how many frames it carried (resets the backoff). */
type SessionEnd = (Ended & { received: number }) | { kind: "error"; error: unknown };

/**
 * Streams from the server until `count` readings, abort, or a fatal close. Rejects with
 * {@link TailError} on a policy close (`auth`), or (`unreachable`) when the first connection
 * is not up within `connectTimeoutMs` or the server answers HTTP 4xx. Readings the server
 * replays after a reconnect are passed on only once.
 */
export async function runTail(
  options: TailOptions,
  events: TailEvents,
  deps: TailDeps = {},
): Promise<TailResult> {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? abortableSleep;
  const shown = displayUrl(options.url);
  const deadline = now() + options.connectTimeoutMs;
  const shared = { readings: 0, lastRaw: new Map<string, string>() };
  let everOpened = false;
  let attempt = 0;
  events.onState("connecting");
  while (true) {
    if (options.signal?.aborted) return finish("aborted");
    const token = typeof options.token === "function" ? await options.token() : options.token;
    const url = streamUrl(options.url, token, options.sensors);
    // The last attempt before the deadline still gets a fair slice, so its error is the
    // server's answer ("connection refused") rather than our own timer.
    const timeoutMs = everOpened
      ? options.connectTimeoutMs
      : Math.max(Math.min(LAST_ATTEMPT_MS, options.connectTimeoutMs), deadline - now());
    const end = await session(url, timeoutMs, options, events, shared);
    if (end.kind === "error") throw end.error;
    if (end.kind === "done") return finish(end.reason);
    everOpened ||= end.opened;
    const about = describeEnd(end);
    if (end.opened && end.code === CloseCode.POLICY_VIOLATION) {
      // A token we mint ourselves is renewed on reconnect; any other refusal is final.
      const renewable = typeof options.token === "function" && end.received > 0;
      if (!(renewable && end.reason === CloseReason.TOKEN_EXPIRED)) {
        events.onState("closed", about.text);
        throw new TailError("auth", authMessage(about.text), { closeReason: end.reason });
      }
    }
    const hint = about.hint ? ` ${about.hint}` : "";
    if (about.fatal || (!everOpened && now() >= deadline)) {
      events.onState("closed", about.text);
      const gaveUp = about.fatal ? "" : ` (gave up after ${options.connectTimeoutMs / 1_000}s)`;
      throw new TailError(
        "unreachable",
        `Cannot connect to ${shown}: ${about.text}.${hint}${gaveUp}`,
      );
    }
    if (end.received > 0) attempt = 0;
    let wait = backoffDelay(attempt++, {
      minMs: options.reconnectMinMs,
      maxMs: options.reconnectMaxMs,
      random,
    });
    if (!everOpened) wait = Math.max(0, Math.min(wait, deadline - now()));
    const what = end.opened ? `connection lost: ${about.text}` : about.text;
    events.onState(
      everOpened ? "reconnecting" : "connecting",
      `${what}; retrying in ${(wait / 1_000).toFixed(1)}s`,
    );
    await sleep(wait, options.signal);
  }

  function finish(reason: TailResult["reason"]): TailResult {
    events.onState("closed", reason === "count" ? `${shared.readings} readings` : "stopped");
    return { reason, readings: shared.readings };
  }
}

/** One connection, from opening to its close event; never rejects. */
function session(
  url: string,
  timeoutMs: number,
  options: TailOptions,
  events: TailEvents,
  shared: { readings: number; lastRaw: Map<string, string> },
): Promise<SessionEnd> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let outcome: SessionEnd | undefined;
    let opened = false;
    let received = 0;
    let error: string | undefined;
    const stop = (end: SessionEnd) => {
      outcome ??= end;
      ws.close(CloseCode.NORMAL);
    };
    const timer = setTimeout(() => {
      error = `no answer within ${(timeoutMs / 1_000).toFixed(1)}s`;
      ws.close();
    }, timeoutMs);
    const onAbort = () => stop({ kind: "done", reason: "aborted", received });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => {
      clearTimeout(timer);
      opened = true;
      // "connected" waits for connection_status: the token is checked after the handshake.
    };
    ws.onerror = (e) => {
      error ??= e instanceof ErrorEvent ? e.message : String(e);
    };
    ws.onmessage = (e) => {
      if (outcome || typeof e.data !== "string") return;
      received++;
      const raw = e.data;
      guard(() => deliver(raw));
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(
        outcome ?? { kind: "closed", opened, received, code: e.code, reason: e.reason, error },
      );
    };
    if (options.signal?.aborted) onAbort();

    function guard(fn: () => void): void {
      try {
        fn();
      } catch (error) {
        stop({ kind: "error", error });
      }
    }

    function deliver(raw: string): void {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        events.onUnknown?.(raw, "not JSON");
        return;
      }
      const parsed = ServerMessageSchema.safeParse(json);
      if (!parsed.success) {
        events.onUnknown?.(raw, parsed.error.issues[0]?.message ?? "not a server message");
        return;
      }
      const msg = parsed.data;
      if (msg.type === "connection_status") events.onState("connected");
      if (msg.type === "sensor_reading") {
        if (shared.lastRaw.get(msg.data.sensor_id) === raw) return;
        shared.lastRaw.set(msg.data.sensor_id, raw);
        shared.readings++;
      }
      events.onMessage(msg, raw);
      if (options.count !== undefined && shared.readings >= options.count) {
        stop({ kind: "done", reason: "count", received });
      }
    }
  });
}

function authMessage(reason: string): string {
  const hint = reason === CloseReason.INVALID_TOKEN
    ? " (was it signed with the secret serve uses? get one with `sensorstream token --sub me`)"
    : reason === CloseReason.TOKEN_EXPIRED || reason === CloseReason.MISSING_TOKEN
    ? " (get a fresh one with `sensorstream token --sub me`)"
    : "";
  return `Server closed the connection: ${reason}${hint}`;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
