/**
 * Minting HS256 tokens for development, scripts and `serve`'s dev mode.
 * @module
 */
import { SignJWT } from "jose";
import { COMMAND_ACTIONS } from "../protocol/mod.ts";

/** Shortest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

/** Options of {@link mintToken}. */
export interface MintOptions {
  /** Subject (`sub`), e.g. a user name. */
  sub: string;
  /** Lifetime in seconds. */
  ttlSec: number;
  /** Sensor ids the token may see (`sensors` claim); omitted = all. */
  sensors?: readonly string[] | undefined;
  /** Actions the token may issue as commands (`commands` claim, e.g. `["irrigate"]`); omitted = none. */
  commands?: readonly string[] | undefined;
  /** Issuer (`iss`), for a server that checks it. */
  issuer?: string | undefined;
  /** Audience (`aud`), for a server that checks it. */
  audience?: string | undefined;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/**
 * Signs an HS256 JWT. Throws `RangeError` when the secret is shorter than 32 bytes.
 *
 * @example A token for alice that sees only V1, for eight hours
 * ```ts
 * import { generateDevSecret, mintToken } from "./token.ts";
 *
 * const secret = generateDevSecret(); // in real use: the JWT_SECRET that serve runs with
 * const token = await mintToken(secret, { sub: "alice", ttlSec: 8 * 3_600, sensors: ["V1"] });
 * // Send it as `Authorization: Bearer <token>` (or `?token=` from a browser).
 * if (token.split(".").length !== 3) throw new Error("not a JWT");
 * ```
 */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new RangeError(
      `JWT secret is ${key.length} bytes; use at least ${MIN_SECRET_BYTES} (e.g. openssl rand -hex 32)`,
    );
  }
  const iat = Math.floor((options.now?.() ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {};
  if (options.sensors) claims.sensors = [...options.sensors];
  if (options.commands) claims.commands = [...options.commands];
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.max(1, Math.round(options.ttlSec)));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return await jwt.sign(key);
}

/**
 * The token a development run of `serve` (no secret configured) prints: 24 hours, every sensor,
 * and every command, irrigate too; it goes to whoever started the run, to try the service with.
 */
export async function mintDevToken(secret: string): Promise<string> {
  return await mintToken(secret, { sub: "dev", ttlSec: 24 * 3600, commands: COMMAND_ACTIONS });
}

/** A random 256-bit secret, hex encoded, for a development run of `serve`. */
export function generateDevSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
