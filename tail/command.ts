/**
 * Sending one command over the stream WebSocket and following it to its end: connect with a
 * token (in the `Authorization` header), send the `command` once the server admitted the
 * client, and pass on each new state of it until a final one. A command is sent at most once:
 * there is no reconnect, and a connection lost after sending leaves the outcome unknown.
 * @module
 */
import { type Clock, systemClock } from "../lib/clock.ts";
import { clipForLog, escapeControl } from "../lib/sanitize.ts";
import {
  type ClientMessage,
  CloseCode,
  type CommandAction,
  type CommandStatus,
  type ServerMessage,
  ServerMessageSchema,
} from "../protocol/mod.ts";
import { describeEnd, type Ended } from "./close_info.ts";
import { COMMAND_MARGIN_MS, CommandLife, type FinalStatus } from "./command_life.ts";
import { TailError } from "./errors.ts";
import { displayUrl, streamUrl } from "./url.ts";

export {
  COMMAND_MARGIN_MS,
  type CommandStatusData,
  type FinalStatus,
  formatStatus,
  randomCommandId,
} from "./command_life.ts";

/** Options of {@link runCommand}. */
export interface CommandOptions {
  /** WebSocket endpoint, e.g. `ws://localhost:8000/ws/sensors`; a `?token=` in it is dropped. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; it needs the `commands` claim for the action. */
  token: string;
  /** The command: its id (1–64 characters, echoed by the server), sensor, action and params. */
  command: { id: string; sensorId: string; action: CommandAction; params: Record<string, unknown> };
  /** How long the device runs it once accepted, ms (irrigate: its duration). */
  runsMs: number;
  /** Give up when the server cannot be reached, or does not answer the command, within this. */
  connectTimeoutMs: number;
  /** Wait beyond what the server promises (see {@link COMMAND_MARGIN_MS}, the default), ms. */
  marginMs?: number | undefined;
  /** Aborting closes the connection and resolves with `aborted`. */
  signal?: AbortSignal | undefined;
}

/** A message about the command: each new state of it, or the server's error reply. */
export type CommandMessage = Extract<ServerMessage, { type: "command_status" | "error" }>;

/**
 * What the client reports. `raw` is the text exactly as received and message fields are as
 * sent: escape them before printing.
 */
export interface CommandEvents {
  /** A new state of the command (repeats are dropped), or the server's error reply to it. */
  onMessage(msg: CommandMessage, raw: string): void;
}

/** How a run ended. */
export type CommandOutcome =
  /** The command reached a final state; `reason`: why it was rejected. */
  | { kind: "ended"; status: FinalStatus; reason?: string }
  /** It was sent, or may have been, and then the connection or the server went silent. */
  | { kind: "unknown"; last: CommandStatus | undefined; why: string }
  /** The signal aborted; `sent`: the command had gone out, `last`: how far it got. */
  | { kind: "aborted"; sent: boolean; last: CommandStatus | undefined };

/** Injected timers, for tests. */
export interface CommandDeps {
  clock?: Pick<Clock, "setTimeout" | "clearTimeout">;
}

/**
 * Sends one command and follows it until a final state, abort, silence or a lost connection.
 * Rejects with {@link TailError} when the command surely did not reach the devices: `unreachable`
 * (no connection within `connectTimeoutMs`), `auth` or `refused` (the server closed before
 * admitting the client), or `refused` when the server answers the command with an `error` (a
 * malformed command, or a server too old to know commands).
 *
 * @example Open V1's valve for 30 s
 * ```ts
 * import { formatStatus, runCommand } from "./command.ts";
 *
 * export async function irrigate(token: string): Promise<boolean> {
 *   const outcome = await runCommand({
 *     url: "ws://localhost:8000/ws/sensors",
 *     token,
 *     command: { id: "a1", sensorId: "V1", action: "irrigate", params: { duration_s: 30 } },
 *     runsMs: 30_000,
 *     connectTimeoutMs: 10_000,
 *   }, {
 *     onMessage(msg) {
 *       if (msg.type === "command_status") console.log(formatStatus(msg.data));
 *     },
 *   });
 *   return outcome.kind === "ended" && outcome.status === "done";
 * }
 * ```
 */
export function runCommand(
  options: CommandOptions,
  events: CommandEvents,
  deps: CommandDeps = {},
): Promise<CommandOutcome> {
  const clock = deps.clock ?? systemClock;
  const { command, signal } = options;
  const life = new CommandLife(command.id, command.sensorId);
  const patience = {
    answerMs: options.connectTimeoutMs,
    runsMs: options.runsMs,
    marginMs: options.marginMs ?? COMMAND_MARGIN_MS,
  };
  const shown = escapeControl(displayUrl(options.url));
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(streamUrl(options.url, [command.sensorId]), {
        headers: { authorization: `Bearer ${options.token}` },
      });
    } catch (error) {
      return reject(error);
    }
    let opened = false;
    let admitted = false;
    let error: string | undefined;
    let end: { outcome: CommandOutcome } | { error: unknown } | undefined;
    let timer: unknown;
    const stop = (how: { outcome: CommandOutcome } | { error: unknown }) => {
      end ??= how;
      ws.close(CloseCode.NORMAL);
    };
    const wait = (ms: number, onSilence: () => void) => {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(onSilence, ms);
    };
    // Until admitted, silence is a connection that does not come up.
    wait(options.connectTimeoutMs, () => {
      error = `no answer within ${(options.connectTimeoutMs / 1_000).toFixed(1)}s`;
      ws.close();
    });
    const listen = () => {
      const ms = life.patienceMs(patience);
      wait(
        ms,
        () => stop({ outcome: { kind: "unknown", last: life.last, why: life.silence(ms) } }),
      );
    };
    const onAbort = () => stop({ outcome: { kind: "aborted", sent: admitted, last: life.last } });
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => void (opened = true);
    ws.onerror = (e) => void (error ??= e instanceof ErrorEvent ? e.message : String(e));
    ws.onmessage = (e) => {
      if (end || typeof e.data !== "string") return;
      const msg = parse(e.data);
      if (!msg) return;
      try {
        if (!admitted) {
          if (msg.type !== "connection_status") return;
          admitted = true;
          const { id, sensorId, action, params } = command;
          const send: ClientMessage = { type: "command", id, sensor_id: sensorId, action, params };
          ws.send(JSON.stringify(send));
          listen();
        } else if (msg.type === "error") {
          events.onMessage(msg, e.data);
          const said = escapeControl(clipForLog(`${msg.data.code}: ${msg.data.message}`));
          stop({ error: new TailError("refused", `The server refused the command: ${said}`) });
        } else if (life.take(msg)) {
          events.onMessage(msg, e.data);
          const status = life.final;
          if (status) stop({ outcome: ended(status, msg.data.reason) });
          else listen();
        }
      } catch (error) {
        stop({ error });
      }
    };
    ws.onclose = (e) => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (end) return "outcome" in end ? resolve(end.outcome) : reject(end.error);
      const closed: Extract<Ended, { kind: "closed" }> = {
        kind: "closed",
        opened,
        code: e.code,
        reason: e.reason,
        error,
      };
      if (!admitted) return reject(notAdmitted(closed, shown));
      const about = describeEnd(closed);
      resolve({ kind: "unknown", last: life.last, why: `connection lost: ${about.text}` });
    };
    if (signal?.aborted) onAbort();
  });
}

function ended(status: FinalStatus, reason: string | undefined): CommandOutcome {
  return { kind: "ended", status, ...(reason === undefined ? {} : { reason }) };
}

function parse(raw: string): ServerMessage | undefined {
  try {
    const parsed = ServerMessageSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The connection ended before the server admitted the client: why, and what to do. */
function notAdmitted(closed: Extract<Ended, { kind: "closed" }>, shown: string): TailError {
  const about = describeEnd(closed);
  const close = about.close;
  if (close) {
    const hint = about.hint ? ` (${about.hint})` : "";
    return new TailError(
      close.code === CloseCode.POLICY_VIOLATION ? "auth" : "refused",
      `Server closed the connection: ${about.text}${hint}`,
      { closeReason: close.reason },
    );
  }
  const hint = about.hint ? ` ${about.hint}` : "";
  return new TailError("unreachable", `Cannot connect to ${shown}: ${about.text}.${hint}`);
}
