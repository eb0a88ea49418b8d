/**
 * One connection of the tail client, from the handshake to its close event: messages are
 * parsed and handed to the connection's {@link Conversation} (which passes them on, drops
 * replayed readings, asks for history and renews the token), and how it ended handed to the
 * reconnect loop in tail/client.ts.
 * @module
 */
import { CloseCode, ServerMessageSchema } from "../protocol/mod.ts";
import type { Ended } from "./close_info.ts";
import type { TailEvents, TailOptions } from "./client.ts";
import { Conversation, type ConversationOptions, type Shared } from "./conversation.ts";

export type { Shared } from "./conversation.ts";

/** One connection's end, plus how many frames it carried (resets the backoff). */
export type SessionEnd = (Ended & { received: number }) | { kind: "error"; error: unknown };

/** How to open one connection. */
export interface Connect {
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Give up on the handshake after this, ms. */
  timeoutMs: number;
}

/** One connection, from opening to its close event; never rejects. */
export function session(
  url: string,
  connect: Connect,
  options: Pick<TailOptions, "signal" | "count"> & ConversationOptions,
  events: TailEvents,
  shared: Shared,
): Promise<SessionEnd> {
  let conversation: Conversation | undefined;
  const ended = new Promise<SessionEnd>((resolve) => {
    let ws: WebSocket;
    try {
      // A header keeps the token out of the URL, which proxies and servers write to logs.
      ws = new WebSocket(url, { headers: { authorization: `Bearer ${connect.token}` } });
    } catch (error) {
      return resolve({ kind: "error", error: tokenError(error) });
    }
    let outcome: SessionEnd | undefined;
    const talk = new Conversation(
      {
        send(message) {
          // Nothing is sent once the socket is closing: the server would not answer anyway.
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
        },
        fail: (error) => stop({ kind: "error", error }),
      },
      options,
      events,
      shared,
    );
    conversation = talk;
    let opened = false;
    let received = 0;
    let error: string | undefined;
    const stop = (end: SessionEnd) => {
      outcome ??= end;
      ws.close(CloseCode.NORMAL);
    };
    const timer = setTimeout(() => {
      error = `no answer within ${(connect.timeoutMs / 1_000).toFixed(1)}s`;
      ws.close();
    }, connect.timeoutMs);
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
      try {
        const reading = deliver(e.data, events, talk);
        if (reading && shared.readings >= (options.count ?? Infinity)) {
          stop({ kind: "done", reason: "count", received });
        }
      } catch (error) {
        stop({ kind: "error", error });
      }
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(
        outcome ?? { kind: "closed", opened, received, code: e.code, reason: e.reason, error },
      );
    };
    if (options.signal?.aborted) onAbort();
  });
  // A token renewal under way ends with the connection, before the next one starts.
  return ended.finally(() => conversation?.close());
}

/** Parses one frame and hands it on; true when it was a new live reading. */
function deliver(raw: string, events: TailEvents, conversation: Conversation): boolean {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    events.onUnknown?.(raw, "not JSON");
    return false;
  }
  const parsed = ServerMessageSchema.safeParse(json);
  if (!parsed.success) {
    events.onUnknown?.(raw, parsed.error.issues[0]?.message ?? "not a server message");
    return false;
  }
  return conversation.receive(parsed.data, raw);
}

/** `new WebSocket` refuses a header value with e.g. a newline in it. */
function tokenError(error: unknown): unknown {
  if (!(error instanceof TypeError)) return error;
  return new TypeError(
    `the token cannot be sent (${error.message}); a JWT has no spaces or control characters`,
    { cause: error },
  );
}
