/**
 * The `tail` WebSocket client: connects with a token (in the `Authorization` header), hands
 * every server message to the caller, and reconnects with jittered exponential backoff when
 * the connection drops. How it treats a close comes from the close table: it reconnects, backs
 * off ("try again later", 1013) or stops (a refused token, 1008). Once admitted it asks for
 * history (after a reconnect: what it missed), and it renews its token before it expires when
 * it has a source of new ones. It stops after `count` readings and on abort.
 * @module
 */
import { sleep } from "../lib/sleep.ts";
import { escapeControl } from "../lib/sanitize.ts";
import type { SensorReadingMessage, ServerMessage } from "../protocol/mod.ts";
import { MAX_SENSORS } from "./capped_map.ts";
import { ReadingMemory } from "./history.ts";
import type { Notice } from "./notices.ts";
import { ReconnectPolicy } from "./reconnect.ts";
import type { TokenSource } from "./refresh.ts";
import { session, type Shared } from "./session.ts";
import { displayUrl, streamUrl } from "./url.ts";

export { TailError, type TailErrorKind } from "./errors.ts";
export { describeNotice, type Notice } from "./notices.ts";
export type { TokenSource } from "./refresh.ts";

/** Where the client is; `closed` is final. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** Options of {@link runTail}. */
export interface TailOptions {
  /** WebSocket endpoint, e.g. `ws://localhost:8000/ws/sensors`; a `?token=` in it is dropped. */
  url: string;
  /**
   * A token, or a source asked for a fresh one before every connection and when the server
   * says the token expires soon (`token_expiring`: it is sent as `refresh`); sent as
   * `Authorization: Bearer <token>`. A fixed token cannot be renewed.
   */
  token: string | TokenSource;
  /** Only these sensors (sent as `?sensors=`); omitted = all the token may see. */
  sensors?: readonly string[] | undefined;
  /** Stop after this many live readings (readings in `history` replies do not count). */
  count?: number | undefined;
  /**
   * Readings per sensor asked for (`history` with `limit`) when first admitted. Default 0:
   * none. After a reconnect the client always asks for what it missed, whatever this is.
   */
  history?: number | undefined;
  /** Give up when the first connection is not up within this; also bounds each reconnect. */
  connectTimeoutMs: number;
  /** First reconnect delay. Default 250 ms; doubles per failure. */
  reconnectMinMs?: number | undefined;
  /** Longest reconnect delay. Default 5000 ms. */
  reconnectMaxMs?: number | undefined;
  /** Aborting closes the connection and resolves with `aborted`. */
  signal?: AbortSignal | undefined;
  /**
   * Sensors whose recent readings are remembered, to drop replays and to resume after a
   * reconnect. Default {@link MAX_SENSORS}.
   */
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
  /**
   * After `onMessage` of a `history` reply: its readings not passed on before, oldest first,
   * as `sensor_reading` messages (empty when all were), and whether the server held the
   * whole window.
   */
  onHistory?(readings: SensorReadingMessage[], complete: boolean): void;
  /** Something to tell the user: what a resume brought back, how a token renewal went. */
  onNotice?(notice: Notice): void;
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
  /** `count` readings were passed on, or the signal aborted. */
  reason: "count" | "aborted";
  /** Live readings handed to `onMessage`. */
  readings: number;
}

/**
 * Streams from the server until `count` readings, abort, or a close the close table says not
 * to retry. Rejects with {@link TailError}: `auth` on a refused token (1008; an expired token
 * that `token` mints afresh is renewed instead), `refused` on another such close, or
 * `unreachable` when the first connection is not up within `connectTimeoutMs` or the server
 * answers HTTP 4xx (429 excepted). A "try again later" (1013) is retried with a longer
 * backoff. Readings the server replays after a reconnect, or sends both live and in a
 * `history` reply, are passed on only once.
 *
 * @example Print ten readings, then stop
 * ```ts
 * import { runTail } from "./client.ts";
 *
 * export async function printTen(token: string): Promise<void> {
 *   const { readings } = await runTail(
 *     { url: "ws://localhost:8000/ws/sensors", token, count: 10, connectTimeoutMs: 10_000 },
 *     {
 *       onMessage(msg) {
 *         if (msg.type === "sensor_reading") console.log(msg.data.sensor_id, msg.data.moisture);
 *       },
 *       onState(state, detail) {
 *         console.error(`tail: ${state}${detail ? `: ${detail}` : ""}`);
 *       },
 *     },
 *   );
 *   console.error(`${readings} readings`);
 * }
 * ```
 */
export async function runTail(
  options: TailOptions,
  events: TailEvents,
  deps: TailDeps = {},
): Promise<TailResult> {
  const wait = deps.sleep ?? sleep;
  const now = deps.now ?? Date.now;
  const url = streamUrl(options.url, options.sensors);
  const shared: Shared = {
    readings: 0,
    memory: new ReadingMemory(options.maxSensors ?? MAX_SENSORS),
    admitted: false,
  };
  const source = typeof options.token === "function" ? options.token : undefined;
  const conversation = { history: options.history ?? 0, tokenSource: source, now, sleep: wait };
  const policy = new ReconnectPolicy({
    connectTimeoutMs: options.connectTimeoutMs,
    reconnectMinMs: options.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs,
    shown: escapeControl(displayUrl(options.url)),
    renewable: source !== undefined,
    now,
    random: deps.random ?? Math.random,
  });
  const finish = (reason: TailResult["reason"]): TailResult => {
    events.onState("closed", reason === "count" ? `${shared.readings} readings` : "stopped");
    return { reason, readings: shared.readings };
  };
  events.onState("connecting");
  while (true) {
    if (options.signal?.aborted) return finish("aborted");
    let token: string;
    try {
      token = source ? await source(options.signal) : options.token as string;
    } catch (error) {
      if (options.signal?.aborted) return finish("aborted");
      const retry = policy.afterTokenFailure(errorText(error));
      if (!retry) throw error;
      events.onState(retry.state, retry.detail);
      await wait(retry.waitMs, options.signal);
      continue;
    }
    const connect = { token, timeoutMs: policy.handshakeMs() };
    const end = await session(url, connect, { ...options, ...conversation }, events, shared);
    if (end.kind === "error") throw end.error;
    if (end.kind === "done") return finish(end.reason);
    const next = policy.after(end);
    if (next.kind === "stop") {
      events.onState("closed", next.detail);
      throw next.error;
    }
    events.onState(next.state, next.detail);
    await wait(next.waitMs, options.signal);
  }
}

function errorText(error: unknown): string {
  return escapeControl(error instanceof Error ? error.message : String(error));
}
