/**
 * The close table: every way the server closes a WebSocket, as one entry pairing the close code
 * with its reason, what it means, and what a client should do next. The server closes with these
 * entries, `tail` decides from them whether to retry, and a test holds the README's table to it.
 * A new close reason is one entry here.
 * @module
 */

/**
 * What a client should do after a close: `reconnect` soon, retry with `backoff` (the server or
 * its identity provider cannot serve it now), or `stop` until something is fixed (the token, the
 * request).
 */
export type Retry = "reconnect" | "backoff" | "stop";

/** One way the server closes a connection. */
export interface CloseEntry {
  /** WebSocket close code. */
  readonly code: number;
  /** Close reason sent with the code (≤ 123 bytes). */
  readonly reason: string;
  /** What happened, in a few words (for people: README, `tail`). */
  readonly meaning: string;
  /** What a client should do next. */
  readonly retry: Retry;
}

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** Normal closure (client asked). */
  NORMAL: 1000,
  /** The server is going away (shutdown) or dropped a dead peer. */
  GOING_AWAY: 1001,
  /** Policy violation: the token, the request or the client's messages. */
  POLICY_VIOLATION: 1008,
  /** A message over the size limit before the client was admitted. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server error. */
  INTERNAL_ERROR: 1011,
  /** Try again later. */
  TRY_AGAIN_LATER: 1013,
} as const;

const entry = (code: number, reason: string, meaning: string, retry: Retry): CloseEntry => ({
  code,
  reason,
  meaning,
  retry,
});

/** Every close the server sends, by name. */
export const CLOSES = {
  SHUTDOWN: entry(
    CloseCode.GOING_AWAY,
    "server shutting down",
    "the server is stopping",
    "reconnect",
  ),
  IDLE_TIMEOUT: entry(
    CloseCode.GOING_AWAY,
    "idle timeout",
    "no answer to the server's pings",
    "reconnect",
  ),
  MISSING_TOKEN: entry(CloseCode.POLICY_VIOLATION, "missing token", "no token was given", "stop"),
  INVALID_TOKEN: entry(
    CloseCode.POLICY_VIOLATION,
    "invalid token",
    "the token is malformed, badly signed, not yet valid, or has no exp",
    "stop",
  ),
  TOKEN_EXPIRED: entry(
    CloseCode.POLICY_VIOLATION,
    "token expired",
    "the token expired (also while connected)",
    "stop",
  ),
  INVALID_SENSORS: entry(
    CloseCode.POLICY_VIOLATION,
    "invalid sensors parameter",
    "?sensors= names an invalid sensor id",
    "stop",
  ),
  TOO_MANY_ERRORS: entry(
    CloseCode.POLICY_VIOLATION,
    "too many invalid messages",
    "more than 20 invalid messages in 10 s",
    "stop",
  ),
  MESSAGE_TOO_BIG: entry(
    CloseCode.MESSAGE_TOO_BIG,
    "message too big",
    "a message over 64 KiB before the token was checked",
    "stop",
  ),
  SEND_FAILED: entry(
    CloseCode.INTERNAL_ERROR,
    "send failed",
    "the server could not send to this client",
    "backoff",
  ),
  SLOW_CONSUMER: entry(
    CloseCode.TRY_AGAIN_LATER,
    "client too slow",
    "the client read too slowly for too long",
    "backoff",
  ),
  SERVER_FULL: entry(
    CloseCode.TRY_AGAIN_LATER,
    "server full",
    "the server has as many clients as it takes",
    "backoff",
  ),
  AUTH_UNAVAILABLE: entry(
    CloseCode.TRY_AGAIN_LATER,
    "auth unavailable",
    "the identity provider's keys cannot be fetched",
    "backoff",
  ),
  HANDSHAKE_TIMEOUT: entry(
    CloseCode.TRY_AGAIN_LATER,
    "handshake too slow",
    "the WebSocket handshake took too long",
    "backoff",
  ),
} as const satisfies Record<string, CloseEntry>;

/** The name of a close in {@link CLOSES}. */
export type CloseName = keyof typeof CLOSES;

/** Every close reason, by name (`CloseReason.TOKEN_EXPIRED === "token expired"`). */
export const CloseReason = Object.fromEntries(
  Object.entries(CLOSES).map(([name, e]) => [name, e.reason]),
) as { readonly [K in CloseName]: (typeof CLOSES)[K]["reason"] };

/** The table entry for a close, if the server sends it. */
export function closeEntryOf(code: number, reason: string): CloseEntry | undefined {
  return Object.values(CLOSES).find((e) => e.code === code && e.reason === reason);
}

/**
 * What to do after a close with `code` and `reason`: the table's advice for a known close, else
 * the code's class (1008 and 1009: stop; 1013 and 1011: back off; anything else, including a
 * dropped connection: reconnect).
 */
export function retryAfter(code: number, reason: string): Retry {
  const known = closeEntryOf(code, reason);
  if (known) return known.retry;
  if (code === CloseCode.POLICY_VIOLATION || code === CloseCode.MESSAGE_TOO_BIG) return "stop";
  if (code === CloseCode.TRY_AGAIN_LATER || code === CloseCode.INTERNAL_ERROR) return "backoff";
  return "reconnect";
}
