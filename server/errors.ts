/**
 * Why a client's token was refused, or could not be checked.
 * @module
 */
import { type CloseEntry, CLOSES } from "../protocol/mod.ts";

/** Why a token was refused; each is also the WebSocket close reason. */
export type AuthErrorCode = typeof CLOSES[
  "MISSING_TOKEN" | "INVALID_TOKEN" | "TOKEN_EXPIRED" | "AUTH_UNAVAILABLE"
]["reason"];

const BY_REASON = new Map<string, CloseEntry>(
  [CLOSES.MISSING_TOKEN, CLOSES.INVALID_TOKEN, CLOSES.TOKEN_EXPIRED, CLOSES.AUTH_UNAVAILABLE]
    .map((e) => [e.reason, e]),
);

/**
 * A token was refused, or could not be checked. `code` is the close reason sent to the client;
 * {@link AuthError.close} is its close-table entry (1013 when the identity provider could not
 * be reached, else 1008).
 */
export class AuthError extends Error {
  /** The close reason sent to the client. */
  readonly code: AuthErrorCode;
  /** Creates an auth error with the client-facing `code` and an operator-facing `message`. */
  constructor(code: AuthErrorCode, message: string = code, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthError";
    this.code = code;
  }

  /** How the client is closed for it. */
  get close(): CloseEntry {
    return BY_REASON.get(this.code)!;
  }
}
