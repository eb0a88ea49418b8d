/**
 * How a tail connection ended, in words, and what to do next. A close frame is looked up in
 * the close table (`protocol/close.ts`), which decides whether to retry, so a new close reason
 * needs nothing here; the runtime's connection errors (refused, host not found, an HTTP answer
 * instead of a WebSocket) become short sentences with a hint where one helps. Close reasons
 * and error texts come from the server or the network, so their control characters are
 * escaped here, before any message is built from them.
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import { CloseCode, closeEntryOf, CloseReason, type Retry, retryAfter } from "../protocol/mod.ts";

/** How one connection ended: on our terms (`done`), or closed by the server or network. */
export type Ended =
  | { kind: "done"; reason: "count" | "aborted" }
  | {
    kind: "closed";
    /** Whether the WebSocket handshake completed. */
    opened: boolean;
    /** Close code; 0 or 1006 when there was no close frame. */
    code: number;
    reason: string;
    /** The runtime's error message, when there was one. */
    error: string | undefined;
  };

/** A close frame the server sent, its reason as sent (escape it to print). */
export interface CloseFrame {
  /** WebSocket close code. */
  code: number;
  /** Close reason, as sent. */
  reason: string;
}

/** A closed connection in words, and what to do next. */
export interface EndDescription {
  /** e.g. `connection refused`, `1001 server shutting down`, `token expired`. */
  text: string;
  /**
   * What the user might do or what a refusal means, e.g. `Is \`sensorstream serve\`
   * running?`, or for a close the table's meaning of it.
   */
  hint: string | undefined;
  /**
   * What to do next: the close table's advice for a close frame; for a failed handshake, stop
   * on an HTTP 4xx answer, back off on 429 and 503 (a server shedding load), else reconnect.
   */
  retry: Retry;
  /** The close frame, when the server sent one. */
  close: CloseFrame | undefined;
}

/**
 * RFC 6455's names of the codes, said for a close that carries no reason (as one from a proxy
 * or another server may).
 */
const UNNAMED: Record<number, string> = {
  [CloseCode.NORMAL]: "normal closure",
  [CloseCode.GOING_AWAY]: "going away",
  [CloseCode.POLICY_VIOLATION]: "policy violation",
  [CloseCode.INTERNAL_ERROR]: "server error",
  [CloseCode.TRY_AGAIN_LATER]: "try again later",
};

/**
 * What a user of `tail` can do about a refused token: more use to them than the table's
 * meaning, which other refusals are explained with.
 */
const FIXES: Record<string, string> = {
  [CloseReason.INVALID_TOKEN]:
    "was it signed with the secret serve uses? get one with `sensorstream token --sub me`",
  [CloseReason.TOKEN_EXPIRED]: "get a fresh one with `sensorstream token --sub me`",
  [CloseReason.MISSING_TOKEN]: "get a fresh one with `sensorstream token --sub me`",
};

const SERVE_HINT = "Is `sensorstream serve` running?";

/** Describes a `closed` end for messages and the reconnect decision. */
export function describeEnd(ended: Extract<Ended, { kind: "closed" }>): EndDescription {
  if (ended.opened && ended.code !== 0 && ended.code !== 1006) {
    return describeClose({ code: ended.code, reason: ended.reason });
  }
  if (ended.opened) {
    return { text: "connection dropped", hint: undefined, retry: "reconnect", close: undefined };
  }
  return describeConnectError(ended.error);
}

/** Describes a close frame from the server, advised by the close table. */
export function describeClose(close: CloseFrame): EndDescription {
  const { code, reason } = close;
  const said = escapeControl(reason) || UNNAMED[code] || "no reason given";
  return {
    // A policy close is about the token or request, and its reason says which: the code adds
    // nothing a user needs.
    text: code === CloseCode.POLICY_VIOLATION ? said : `${code} ${said}`,
    hint: FIXES[reason] ?? closeEntryOf(code, reason)?.meaning,
    retry: retryAfter(code, reason),
    close,
  };
}

/** Turns the runtime's WebSocket connect error into words. */
export function describeConnectError(message: string | undefined): EndDescription {
  const m = escapeControl(message ?? "");
  const status = /status code:? *(\d{3})/i.exec(m)?.[1];
  if (status !== undefined) {
    // 429 and 503 (a proxy or server shedding load) say "later", unlike the other 4xx.
    const later = status === "429" || status === "503";
    return failed(
      `the server answered HTTP ${status} instead of opening a WebSocket`,
      status === "404" ? "Is this a sensorstream server? Its stream is at /ws/sensors" : undefined,
      later ? "backoff" : status.startsWith("4") ? "stop" : "reconnect",
    );
  }
  if (/tcp connect error|refused/i.test(m)) return failed("connection refused", SERVE_HINT);
  if (/dns error|lookup|not known|resolve/i.test(m)) {
    return failed("host not found", "Check the host name in --url");
  }
  if (/no answer within/.test(m)) return failed(m, SERVE_HINT);
  const text = m.replace(/^NetworkError: /, "").replace(/^failed to connect to WebSocket: /, "");
  return failed(text || "connection failed", undefined);
}

function failed(
  text: string,
  hint: string | undefined,
  retry: Retry = "reconnect",
): EndDescription {
  return { text, hint, retry, close: undefined };
}
