/**
 * The `tail` WebSocket client: connects with a token, hands every server message to the
 * caller, reconnects with jittered exponential backoff when the connection drops, and
 * stops after `count` readings, on abort, or on a policy close (1008).
 * @module
 */
import { CloseCode, type ServerMessage, ServerMessageSchema } from "../server/protocol.ts";
import { endpointUrl, TailError } from "./endpoint.ts";

export { endpointUrl, parseEndpoint, TailError, type TailErrorKind } from "./endpoint.ts";

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

type SessionEnd =
  | { kind: "done"; reason: "count" | "aborted" }
  | { kind: "error"; error: unknown }
  | { kind: "failed"; opened: boolean; received: number; code: number; problem: string };

/**
 * Streams from the server until `count` readings, abort, or a fatal close. Rejects with
 * {@link TailError} on a policy close (`auth`) or when the first connection cannot be
 * made within `connectTimeoutMs` (`unreachable`). Readings repeated by the server's
 * replay after a reconnect are passed on only once.
 */
export async function runTail(
  options: TailOptions,
  events: TailEvents,
  deps: TailDeps = {},
): Promise<TailResult> {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? abortableSleep;
  const min = options.reconnectMinMs ?? 250;
  const max = Math.max(min, options.reconnectMaxMs ?? 5_000);
  const deadline = now() + options.connectTimeoutMs;
  const shared = { readings: 0, lastRaw: new Map<string, string>() };
  let everOpened = false;
  let delay = min;
  events.onState("connecting");
  while (true) {
    if (options.signal?.aborted) return finish("aborted");
    const token = typeof options.token === "function" ? await options.token() : options.token;
    const url = endpointUrl(options.url, { token, sensors: options.sensors }).href;
    const timeoutMs = everOpened ? options.connectTimeoutMs : Math.max(1, deadline - now());
    const end = await session(url, timeoutMs, options, events, shared);
    if (end.kind === "done") return finish(end.reason);
    if (end.kind === "error") throw end.error;
    everOpened ||= end.opened;
    if (end.code === CloseCode.POLICY_VIOLATION) {
      const renewable = typeof options.token === "function" && end.received > 0;
      if (!(renewable && end.problem === "token expired")) {
        events.onState("closed", end.problem);
        throw new TailError("auth", authMessage(end.problem), { closeReason: end.problem });
      }
    }
    if (!everOpened && now() >= deadline) {
      events.onState("closed", end.problem);
      throw new TailError("unreachable", unreachableMessage(options, end.problem));
    }
    if (end.received > 0) delay = min;
    let wait = Math.round(delay * (0.5 + 0.5 * random()));
    delay = Math.min(max, delay * 2);
    if (!everOpened) wait = Math.max(0, Math.min(wait, deadline - now()));
    const what = end.opened ? `connection lost: ${end.problem}` : end.problem;
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
    let problem: string | undefined;
    const stop = (end: SessionEnd, code = CloseCode.NORMAL) => {
      outcome ??= end;
      ws.close(code);
    };
    const timer = setTimeout(() => {
      problem = `no answer within ${(timeoutMs / 1_000).toFixed(1)}s`;
      ws.close();
    }, timeoutMs);
    const onAbort = () => stop({ kind: "done", reason: "aborted" });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => {
      clearTimeout(timer);
      opened = true;
      guard(() => events.onState("connected"));
    };
    ws.onerror = (e) => {
      problem ??= describeConnectError(e instanceof ErrorEvent ? e.message : String(e));
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
        outcome ?? {
          kind: "failed",
          opened,
          received,
          code: e.code,
          problem: e.reason || problem || describeClose(e.code),
        },
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
      if (msg.type === "sensor_reading") {
        if (shared.lastRaw.get(msg.data.sensor_id) === raw) return;
        shared.lastRaw.set(msg.data.sensor_id, raw);
        shared.readings++;
      }
      events.onMessage(msg, raw);
      if (options.count !== undefined && shared.readings >= options.count) {
        stop({ kind: "done", reason: "count" });
      }
    }
  });
}

/** Turns Deno's WebSocket error text into what a user understands. */
function describeConnectError(message: string): string {
  const text = message.replace(/^.*failed to connect to WebSocket:\s*/, "");
  if (/tcp connect error|refused/i.test(text)) return "connection refused";
  if (/dns error/i.test(text)) return "host not found";
  const status = /status code:?\s*(\d{3})/i.exec(text)?.[1];
  if (status === "404") return "HTTP 404 (no WebSocket endpoint there; the path is /ws/sensors)";
  if (status === "503") return "HTTP 503 (server busy: too many clients)";
  if (status) return `HTTP ${status} instead of a WebSocket upgrade`;
  return text || "connection failed";
}

function describeClose(code: number): string {
  switch (code) {
    case CloseCode.GOING_AWAY:
      return "server shutting down";
    case CloseCode.INTERNAL_ERROR:
      return "server error";
    case CloseCode.TRY_AGAIN_LATER:
      return "client too slow";
    default:
      return `closed without a reason (code ${code})`;
  }
}

function authMessage(reason: string): string {
  const hint = reason === "too many invalid messages"
    ? ""
    : reason === "invalid token"
    ? " (was it signed with the secret serve uses? get one with `sensorstream token --sub me`)"
    : " (get a fresh one with `sensorstream token --sub me`)";
  return `Server refused the connection: ${reason}${hint}`;
}

function unreachableMessage(options: TailOptions, problem: string): string {
  const secs = options.connectTimeoutMs / 1_000;
  const serveHint = /refused|no answer/.test(problem) ? " Is `sensorstream serve` running?" : "";
  return `Cannot connect to ${options.url}: ${problem}.${serveHint} (gave up after ${secs}s)`;
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
