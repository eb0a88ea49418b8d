/**
 * Renewing the token of one connection: on `token_expiring`, get a new token (mint it, run the
 * token command) and send `refresh`; when getting one fails, try again a few times before the
 * old one expires (a few times, spread over the time left). The token itself is never part of
 * a notice.
 * @module
 */
import type { Notice } from "./notices.ts";

/** Gets a token; aborting `signal` gives up on it (e.g. kills a token command). */
export type TokenSource = (signal?: AbortSignal) => string | Promise<string>;

/** Attempts to get a new token per `token_expiring`. */
const MAX_ATTEMPTS = 5;
/** Least time between two attempts, ms; else a quarter of the time left. */
const RETRY_MIN_MS = 1_000;
/** No attempt starts later than this before the old token expires, ms. */
const LAST_ATTEMPT_MS = 1_000;

/** Options of {@link TokenRefresher}. */
export interface RefresherOptions {
  /** Where new tokens come from; `undefined`: the token was given and cannot be renewed. */
  source: TokenSource | undefined;
  /** Sends `{"type":"refresh","token":…}`. */
  send(token: string): void;
  notice(notice: Notice): void;
  /** An exception from `send` or `notice` during a renewal (they run off the message path). */
  fail(error: unknown): void;
  now(): number;
  /** Waits `ms` or until `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** One connection's token renewals; {@link TokenRefresher.close} when the connection ends. */
export class TokenRefresher {
  readonly #o: RefresherOptions;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  /** A `refresh` went out and has no answer yet: the old token's expiry, as the server said. */
  #awaiting: { expiresAt: string } | undefined;

  /** Renews through `options.source`. */
  constructor(options: RefresherOptions) {
    this.#o = options;
  }

  /** The server said the token expires at `expiresAt`: renew it (once at a time). */
  expiring(expiresAt: string): void {
    const source = this.#o.source;
    if (source === undefined) return this.#o.notice({ kind: "cannot_refresh", expiresAt });
    if (this.#running || this.#stop.signal.aborted) return;
    this.#running = this.#renew(source, expiresAt)
      .catch((error) => this.#o.fail(error))
      .finally(() => this.#running = undefined);
  }

  /** `token_refreshed` came. */
  refreshed(expiresAt: string | null): void {
    if (!this.#awaiting) return;
    this.#awaiting = undefined;
    this.#o.notice({ kind: "token_refreshed", expiresAt });
  }

  /** An `invalid_token` error came: the new token was refused when one was awaited. */
  refused(): void {
    if (!this.#awaiting) return;
    const { expiresAt } = this.#awaiting;
    this.#awaiting = undefined;
    this.#o.notice({ kind: "refresh_refused", expiresAt });
  }

  /** Gives up any renewal under way and waits until it has stopped. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #renew(source: TokenSource, expiresAt: string): Promise<void> {
    const { now, notice, sleep } = this.#o;
    const signal = this.#stop.signal;
    const expiry = Date.parse(expiresAt);
    for (let attempt = 1; !signal.aborted; attempt++) {
      let token: string;
      try {
        token = await source(signal);
      } catch (error) {
        if (signal.aborted) return;
        const reason = error instanceof Error ? error.message : String(error);
        const left = expiry - now();
        // Spread over the time left, so a helper that is down for a moment gets another go.
        const wait = Math.max(RETRY_MIN_MS, Math.round(left / 4));
        const retry = attempt < MAX_ATTEMPTS && left - wait >= LAST_ATTEMPT_MS;
        notice({ kind: "refresh_failed", reason, retryInMs: retry ? wait : undefined, expiresAt });
        if (!retry) return;
        await sleep(wait, signal);
        continue;
      }
      if (signal.aborted) return;
      this.#awaiting = { expiresAt };
      this.#o.send(token);
      return;
    }
  }
}
