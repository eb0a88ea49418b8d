/**
 * The few error classes callers catch. Bad input otherwise raises built-ins
 * (`TypeError`, `RangeError`); every message says what failed, the value, and what to do.
 * @module
 */

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

import { CloseReason } from "./protocol.ts";

/** Why a token was refused; each is also the WebSocket close reason (code 1008). */
export type AuthErrorCode = typeof CloseReason[
  "MISSING_TOKEN" | "INVALID_TOKEN" | "TOKEN_EXPIRED"
];

/** A token was refused. `code` is the close reason sent to the client. */
export class AuthError extends Error {
  /** The close reason sent with code 1008. */
  readonly code: AuthErrorCode;
  /** Creates an auth error with the client-facing `code` and an operator-facing `message`. */
  constructor(code: AuthErrorCode, message: string = code, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthError";
    this.code = code;
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
