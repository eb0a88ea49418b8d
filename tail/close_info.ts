/**
 * How a tail connection ended, in words: close codes, close reasons and the runtime's
 * connection errors turned into short sentences with a hint where one helps. Close reasons
 * and error texts come from the server or the network, so their control characters are
 * escaped here, before any message is built from them.
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import { CloseCode } from "../protocol/mod.ts";

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

/** A closed connection in words. */
export interface EndDescription {
  /** e.g. `connection refused`, `1001 server shutting down`. */
  text: string;
  /** What the user might do, e.g. `Is \`sensorstream serve\` running?`. */
  hint: string | undefined;
  /** Retrying will not help (the server answered HTTP 4xx). */
  fatal: boolean;
  /**
   * The server asked to be left alone for a while (1013: it is full, its identity provider is
   * down, or we were too slow), so the next retry should not come at once.
   */
  retryLater: boolean;
}

const MEANING: Record<number, string> = {
  [CloseCode.NORMAL]: "normal closure",
  [CloseCode.GOING_AWAY]: "going away",
  [CloseCode.POLICY_VIOLATION]: "policy violation",
  1006: "closed without a close frame",
  [CloseCode.INTERNAL_ERROR]: "server error",
  [CloseCode.TRY_AGAIN_LATER]: "try again later",
};

const SERVE_HINT = "Is `sensorstream serve` running?";

/** Describes a `closed` end for messages. */
export function describeEnd(ended: Extract<Ended, { kind: "closed" }>): EndDescription {
  if (ended.opened && ended.code !== 0 && ended.code !== 1006) {
    const reason = escapeControl(ended.reason) || MEANING[ended.code] || "no reason given";
    return {
      text: ended.code === CloseCode.POLICY_VIOLATION ? reason : `${ended.code} ${reason}`,
      hint: undefined,
      fatal: false,
      retryLater: ended.code === CloseCode.TRY_AGAIN_LATER,
    };
  }
  if (ended.opened) {
    return { text: "connection dropped", hint: undefined, fatal: false, retryLater: false };
  }
  return describeConnectError(ended.error);
}

/** Turns the runtime's WebSocket connect error into words. */
export function describeConnectError(message: string | undefined): EndDescription {
  const m = escapeControl(message ?? "");
  const retryLater = false;
  const status = /status code:? *(\d{3})/i.exec(m)?.[1];
  if (status !== undefined) {
    // 429 and 503 (a proxy or server shedding load) say "later", unlike the other 4xx.
    const later = status === "429" || status === "503";
    return {
      text: `the server answered HTTP ${status} instead of opening a WebSocket`,
      hint: status === "404"
        ? "Is this a sensorstream server? Its stream is at /ws/sensors"
        : undefined,
      fatal: status.startsWith("4") && !later,
      retryLater: later,
    };
  }
  if (/tcp connect error|refused/i.test(m)) {
    return { text: "connection refused", hint: SERVE_HINT, fatal: false, retryLater };
  }
  if (/dns error|lookup|not known|resolve/i.test(m)) {
    const hint = "Check the host name in --url";
    return { text: "host not found", hint, fatal: false, retryLater };
  }
  if (/no answer within/.test(m)) return { text: m, hint: SERVE_HINT, fatal: false, retryLater };
  const text = m.replace(/^NetworkError: /, "").replace(/^failed to connect to WebSocket: /, "");
  return { text: text || "connection failed", hint: undefined, fatal: false, retryLater };
}
