/**
 * What the tail client tells its user beyond connection states: what a reconnect brought back,
 * and how renewing the token went. Each notice is data (for tests and other outputs) with one
 * wording, {@link describeNotice}, whose text is safe to print.
 * @module
 */
import { escapeControl } from "../lib/sanitize.ts";
import type { ResumeSummary } from "./history.ts";

/** A note for the user. Times are as the server wrote them (escape them to print). */
export type Notice =
  | ({ kind: "resumed" } & ResumeSummary)
  | { kind: "token_refreshed"; expiresAt: string | null }
  | { kind: "refresh_failed"; reason: string; retryInMs: number | undefined; expiresAt: string }
  | { kind: "refresh_refused"; expiresAt: string | undefined }
  | { kind: "cannot_refresh"; expiresAt: string };

/** Sensors named in a gap notice before the rest are counted. */
const NAMED_GAPS = 5;

/**
 * One line, without a trailing newline, control characters escaped:
 * `resumed: 12 readings`, `gap: history incomplete for V1, V3 (resumed 12 readings)`, …
 */
export function describeNotice(notice: Notice): string {
  switch (notice.kind) {
    case "resumed": {
      const readings = `${notice.readings} reading${notice.readings === 1 ? "" : "s"}`;
      if (notice.gaps.length === 0) return `resumed: ${readings}`;
      return `gap: history incomplete for ${listed(notice.gaps)} (resumed ${readings})`;
    }
    case "token_refreshed":
      return notice.expiresAt === null
        ? "token refreshed (no expiry)"
        : `token refreshed (expires ${escapeControl(notice.expiresAt)})`;
    case "refresh_failed": {
      const why = `cannot refresh the token: ${escapeControl(notice.reason)}`;
      if (notice.retryInMs !== undefined) {
        return `${why}; retrying in ${(notice.retryInMs / 1_000).toFixed(1)}s`;
      }
      return `${why}; ${expiryThen(notice.expiresAt)}`;
    }
    case "refresh_refused":
      return `the server refused the new token; ${expiryThen(notice.expiresAt)}`;
    case "cannot_refresh":
      return `the token expires at ${escapeControl(notice.expiresAt)} and tail cannot renew a ` +
        "token it was given (use --token-command, or JWT_SECRET to mint its own)";
  }
}

function expiryThen(expiresAt: string | undefined): string {
  const when = expiresAt === undefined ? "" : ` at ${escapeControl(expiresAt)}`;
  return `the server closes the connection when the old one expires${when}, ` +
    "then tail reconnects with a new one";
}

function listed(ids: readonly string[]): string {
  const named = ids.slice(0, NAMED_GAPS).map(escapeControl).join(", ");
  return ids.length > NAMED_GAPS ? `${named} and ${ids.length - NAMED_GAPS} more` : named;
}
