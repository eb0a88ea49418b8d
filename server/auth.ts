/**
 * Token verification: HS256 with a shared secret, or an identity provider's keys from a JWKS
 * URL. Every refusal is an {@link AuthError} whose `code` is the close reason sent to the client.
 * @module
 */
import { decodeJwt, errors, type JWTPayload, jwtVerify, type JWTVerifyOptions } from "jose";
import type { AuthConfig } from "./config.ts";
import { AuthError } from "./errors.ts";
import { OptionError } from "../lib/errors.ts";
import { jwksKeys, type JwksOptions, JwksUnavailableError } from "./jwks.ts";
import { SENSOR_ID_PATTERN } from "../protocol/mod.ts";
import { MIN_SECRET_BYTES } from "./token.ts";

/** Longest token accepted, bytes; longer ones are refused unread (real JWTs are < 2 KiB). */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** What a verified token grants. */
export interface Claims {
  /** Subject (`sub`); `""` when the token has none. */
  sub: string;
  /** Sensor ids the client may see (`sensors` claim); `null` = all. */
  sensors: ReadonlySet<string> | null;
  /** Actions the client may issue as `command`s (`commands` claim); `null` = none. */
  commands: ReadonlySet<string> | null;
  /** Expiry (`exp`) in ms since the epoch; `undefined` when the token does not expire. */
  expiresAt: number | undefined;
}

/** Checks tokens; built once from the auth config. */
export interface Verifier {
  /** `secret` for HS256, `jwks` for keys fetched from an identity provider. */
  readonly mode: "secret" | "jwks";
  /** Resolves to the token's claims, or rejects with an {@link AuthError}. */
  verify(token: string | null | undefined): Promise<Claims>;
}

/** Asymmetric algorithms accepted from a JWKS; never `none` nor HMAC (its key would be public). */
export const JWKS_ALGORITHMS: readonly string[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "ES256",
  "ES384",
  "EdDSA",
];

/** jose's check of a token's signature and claims, with the key it needs. */
type Check = (token: string, options: JWTVerifyOptions) => Promise<JWTPayload>;

/**
 * Builds a verifier for `auth`, which must set exactly one of `secret` and `jwksUrl`.
 * Throws `OptionError` for a secret under 32 bytes or a JWKS URL that is not http(s).
 */
export function createVerifier(
  auth: AuthConfig,
  options: { now?: () => number; jwks?: JwksOptions } = {},
): Verifier {
  const now = options.now ?? Date.now;
  const { mode, check } = checkOf(auth, options.jwks);
  const algorithms = mode === "secret" ? ["HS256"] : [...JWKS_ALGORITHMS];
  return {
    mode,
    async verify(token) {
      if (token === null || token === undefined || token === "") {
        throw new AuthError(
          "missing token",
          "missing token: none was given (?token=JWT or Authorization: Bearer JWT)",
        );
      }
      if (token.length > MAX_TOKEN_BYTES) {
        throw new AuthError("invalid token", `invalid token: longer than ${MAX_TOKEN_BYTES} bytes`);
      }
      // An expired token is refused before any key is looked up: during an identity-provider
      // outage it must hear "expired" (final), not "auth unavailable" (retry forever). A shared
      // secret is never unavailable, and jose says "expired" itself.
      if (mode === "jwks" && expiredUnverified(token, now() / 1000 - auth.clockToleranceSec)) {
        throw new AuthError("token expired", "token expired: its exp is in the past");
      }
      let payload: JWTPayload;
      try {
        payload = await check(token, {
          algorithms,
          issuer: auth.issuer,
          audience: auth.audience,
          clockTolerance: auth.clockToleranceSec,
          currentDate: new Date(now()),
          requiredClaims: auth.allowNoExp ? [] : ["exp"],
        });
      } catch (error) {
        throw refusal(error, mode);
      }
      if (typeof payload.iat === "number" && payload.iat > now() / 1000 + auth.clockToleranceSec) {
        throw new AuthError("invalid token", "invalid token: iat is in the future");
      }
      return claimsOf(payload);
    },
  };
}

/** The signature check: the shared secret's, or the identity provider's keys'. */
function checkOf(
  auth: AuthConfig,
  jwks: JwksOptions | undefined,
): { mode: "secret" | "jwks"; check: Check } {
  if ((auth.secret !== undefined) === (auth.jwksUrl !== undefined)) {
    throw new TypeError(
      "createVerifier needs exactly one of auth.secret and auth.jwksUrl; got " +
        (auth.secret !== undefined ? "both" : "neither"),
    );
  }
  if (auth.secret === undefined) {
    const keys = jwksKeys(jwksUrlOf(auth.jwksUrl!), jwks);
    return { mode: "jwks", check: async (token, o) => (await jwtVerify(token, keys, o)).payload };
  }
  const key = new TextEncoder().encode(auth.secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new OptionError(
      "auth.secret",
      `is ${key.length} bytes; use at least ${MIN_SECRET_BYTES} (e.g. from \`openssl rand -hex 32\`)`,
    );
  }
  // Imported once: given raw bytes, jose would import a key for every token it checks.
  let cryptoKey: Promise<CryptoKey> | undefined;
  const keyOnce = () =>
    cryptoKey ??= crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
  return {
    mode: "secret",
    check: async (token, o) => (await jwtVerify(token, await keyOnce(), o)).payload,
  };
}

/** Whether the token's (unverified) `exp` is before `nowSec`; false when it cannot be read. */
function expiredUnverified(token: string, nowSec: number): boolean {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" && exp < nowSec;
  } catch {
    return false; // malformed: jwtVerify says how
  }
}

function jwksUrlOf(value: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch { /* reported below */ }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new OptionError(
      "auth.jwksUrl",
      `'${value}' is not an http(s) URL; use the identity provider's JWKS endpoint, e.g. ` +
        `https://auth.example.com/.well-known/jwks.json`,
    );
  }
  return url;
}

/** Maps a jose failure to the client-facing code; the message is for the operator's log. */
function refusal(error: unknown, mode: "secret" | "jwks"): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof JwksUnavailableError) {
    return new AuthError("auth unavailable", `auth unavailable: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.reason === "missing") {
    const why = error.claim === "exp"
      ? "no exp (the auth.allowNoExp option accepts such tokens)"
      : `no ${error.claim}`;
    return new AuthError("invalid token", `invalid token: ${why}`, { cause: error });
  }
  if (error instanceof errors.JWTExpired) {
    return new AuthError("token expired", "token expired: its exp is in the past", {
      cause: error,
    });
  }
  let why: string;
  if (error instanceof errors.JWKSNoMatchingKey) {
    why = "no key in the JWKS matches its kid/alg";
  } else if (error instanceof errors.JOSEAlgNotAllowed) {
    why = `its alg is not accepted in ${mode} mode`;
  } else if (error instanceof errors.JWSSignatureVerificationFailed) why = "bad signature";
  else if (error instanceof errors.JOSEError) why = error.message;
  else why = error instanceof Error ? error.message : String(error);
  return new AuthError("invalid token", `invalid token: ${why}`, { cause: error });
}

function claimsOf(payload: JWTPayload): Claims {
  const { sub, exp } = payload;
  const sensors: unknown = payload["sensors"];
  if (sub !== undefined && typeof sub !== "string") {
    throw new AuthError("invalid token", "invalid token: sub claim is not a string");
  }
  let allowed: Set<string> | null = null;
  if (sensors !== undefined) {
    if (
      !Array.isArray(sensors) ||
      !sensors.every((s) => typeof s === "string" && SENSOR_ID_PATTERN.test(s))
    ) {
      throw new AuthError(
        "invalid token",
        "invalid token: sensors claim must be an array of sensor ids (letters, digits, '_', '-')",
      );
    }
    allowed = new Set(sensors as string[]);
  }
  const commands: unknown = payload["commands"];
  if (
    commands !== undefined &&
    (!Array.isArray(commands) ||
      !commands.every((c) => typeof c === "string" && c.length > 0 && c.length <= 64))
  ) {
    throw new AuthError(
      "invalid token",
      'invalid token: commands claim must be an array of action names, e.g. ["irrigate"]',
    );
  }
  return {
    sub: sub ?? "",
    sensors: allowed,
    commands: commands === undefined ? null : new Set(commands as string[]),
    expiresAt: typeof exp === "number" ? exp * 1000 : undefined,
  };
}
