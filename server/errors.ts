/**
 * The few error classes callers catch. Bad input otherwise raises built-ins
 * (`TypeError`, `RangeError`); every message says what failed, the value, and what to do.
 * @module
 */
import { CloseCode, CloseReason } from "./protocol.ts";

/** Invalid command-line or configuration input; the CLI exits with code 2. */
export class UsageError extends Error {
  /** Process exit code for this error. */
  readonly exitCode = 2;
  /** Creates a usage error; `message` says what is wrong and how to fix it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** Why a token was refused; each is also the WebSocket close reason. */
export type AuthErrorCode = typeof CloseReason[
  "MISSING_TOKEN" | "INVALID_TOKEN" | "TOKEN_EXPIRED" | "AUTH_UNAVAILABLE"
];

/**
 * A token was refused, or could not be checked. `code` is the close reason sent to the client;
 * `closeCode` is 1013 (try again later) when the identity provider could not be reached, else
 * 1008 (policy violation).
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

  /** The WebSocket close code for this refusal. */
  get closeCode(): number {
    return this.code === CloseReason.AUTH_UNAVAILABLE
      ? CloseCode.TRY_AGAIN_LATER
      : CloseCode.POLICY_VIOLATION;
  }
}

/** Something the service needs at start (a port, a broker) is not available; exit code 1. */
export class StartupError extends Error {
  /** Creates a startup error; `message` names the fix. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}
