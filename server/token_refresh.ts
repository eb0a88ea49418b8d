/**
 * A connection's token after admission: when it expires (the close) and when the client hears
 * `token_expiring`, both on shared timers, and a `refresh` with a new token: verified as at
 * connect, same `sub`, its `sensors` and `commands` claims the client's new limits.
 * @module
 */
import { type CloseEntry, CLOSES, envelopeOf } from "../protocol/mod.ts";
import type { Claims } from "./auth.ts";
import type { ConnectionDeps, Expiring } from "./connection_deps.ts";
import { AuthError } from "./errors.ts";

/** The connection, as its token sees it. */
export interface TokenOwner {
  /** Still an admitted client (not closing or gone). */
  readonly connected: boolean;
  close(close: CloseEntry): void;
  /** Tells the client its refresh was refused (an `invalid_token` error). */
  refused(reason: string): void;
}

/** One admitted client's token: expiry, the notice before it, refreshes. */
export class TokenLife implements Expiring {
  readonly #deps: ConnectionDeps;
  readonly #clientId: string;
  readonly #owner: TokenOwner;
  #expiresAt: number | undefined;
  #refreshing = false;
  /** The token's `commands` claim: what the client may issue. */
  commands: ReadonlySet<string> | null;

  /** Arms the expiry of the admitted token (`claims`). */
  constructor(
    deps: ConnectionDeps,
    clientId: string,
    owner: TokenOwner,
    claims: Pick<Claims, "expiresAt" | "commands">,
  ) {
    this.#deps = deps;
    this.#clientId = clientId;
    this.#owner = owner;
    this.#expiresAt = claims.expiresAt;
    this.commands = claims.commands;
    scheduleExpiry(deps, this, claims.expiresAt);
  }

  /** The token expired: the client is closed. */
  expire(): void {
    this.#deps.metrics.disconnects.inc(CLOSES.TOKEN_EXPIRED.reason);
    this.#owner.close(CLOSES.TOKEN_EXPIRED);
  }

  /** The token expires within the refresh window: `token_expiring`. */
  expiringSoon(): void {
    if (this.#expiresAt === undefined || !this.#owner.connected) return;
    this.#deps.hub.sendTo(this.#clientId, expiringText(this.#expiresAt, this.#deps.clock.now()));
  }

  /** Checks a new token; on success moves the expiry and the client's sensor limit. */
  refresh(token: string): void {
    if (this.#refreshing) return this.#owner.refused("a refresh is already being checked");
    this.#refreshing = true;
    const { hub, clock, metrics } = this.#deps;
    const sub = hub.get(this.#clientId)?.subject ?? "";
    void checkRefresh(this.#deps, token, sub).then((verdict) => {
      this.#refreshing = false;
      if (!this.#owner.connected) return;
      if (typeof verdict === "string") {
        metrics.tokenRefreshes.inc("refused");
        return this.#owner.refused(verdict);
      }
      metrics.tokenRefreshes.inc("accepted");
      hub.setAllowed(this.#clientId, verdict.sensors);
      this.commands = verdict.commands;
      this.#expiresAt = verdict.expiresAt;
      scheduleExpiry(this.#deps, this, verdict.expiresAt);
      hub.sendTo(this.#clientId, refreshedText(verdict.expiresAt, clock.now()));
    });
  }

  /** Disarms both timers (the client left). */
  cancel(): void {
    cancelExpiry(this.#deps, this);
  }
}

type TokenDeps = Pick<
  ConnectionDeps,
  "expiries" | "notices" | "clockToleranceMs" | "tokenRefreshWindowMs"
>;

/** Arms (or, without `exp`, disarms) the expiry close and the `token_expiring` notice. */
export function scheduleExpiry(
  deps: TokenDeps,
  item: Expiring,
  expiresAt: number | undefined,
): void {
  if (expiresAt === undefined) {
    deps.expiries.delete(item);
    deps.notices.delete(item);
    return;
  }
  deps.expiries.set(item, expiresAt + deps.clockToleranceMs);
  deps.notices.set(item, expiresAt - deps.tokenRefreshWindowMs);
}

/** Forgets a connection's timers (it left). */
export function cancelExpiry(deps: TokenDeps, item: Expiring): void {
  deps.expiries.delete(item);
  deps.notices.delete(item);
}

/** The new token's claims, or why it is refused (plain words, no token in them). */
export async function checkRefresh(
  deps: Pick<ConnectionDeps, "verifier">,
  token: string,
  sub: string,
): Promise<Claims | string> {
  let claims: Claims;
  try {
    claims = await deps.verifier.verify(token);
  } catch (error) {
    return error instanceof AuthError ? error.code : "invalid token";
  }
  if (claims.sub !== sub) return "the new token's sub is not this connection's";
  return claims;
}

/** `token_expiring` for a token expiring at `expiresAt` (ms). */
export function expiringText(expiresAt: number, now: number): string {
  const data = { expires_at: new Date(expiresAt).toISOString() };
  return JSON.stringify(envelopeOf("token_expiring", data, new Date(now)));
}

/** `token_refreshed` for a token expiring at `expiresAt` (ms; `undefined`: never). */
export function refreshedText(expiresAt: number | undefined, now: number): string {
  const data = { expires_at: expiresAt === undefined ? null : new Date(expiresAt).toISOString() };
  return JSON.stringify(envelopeOf("token_refreshed", data, new Date(now)));
}
