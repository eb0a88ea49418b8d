/**
 * Keys from an identity provider's JWKS, as jose fetches them (one fetch at a time, bounded by
 * a timeout, cached), plus what jose does not do: keep serving the last keys it fetched while
 * the provider is down, and tell "the provider is unreachable" apart from "the token is wrong".
 * @module
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type ExportedJWKSCache,
  jwksCache,
  type JWTVerifyGetKey,
} from "jose";

/** Tuning of {@link jwksKeys}; the defaults suit production. */
export interface JwksOptions {
  /** Longest a JWKS fetch may take, ms. Default 5000. */
  timeoutMs?: number;
  /** Keys are re-fetched when older than this, ms. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** While the provider is down, keys fetched at most this long ago keep working, ms. Default 24 h. */
  staleMaxMs?: number;
  /** After a failed fetch, no new fetch is tried for this long, ms. Default 10 s. */
  retryAfterMs?: number;
  /** Wall clock, ms (jose's own cache uses `Date.now`). */
  now?: () => number;
}

/** The identity provider could not be reached or answered nonsense: not the token's fault. */
export class JwksUnavailableError extends Error {
  /** `why` says what failed, for the operator's log. */
  constructor(why: string, options?: ErrorOptions) {
    super(why, options);
    this.name = "JwksUnavailableError";
  }
}

/**
 * A key getter for `jwtVerify` over the JWKS at `url`. Throws {@link JwksUnavailableError}
 * when the keys cannot be had, and jose's own errors (no matching key, bad alg…) for tokens the
 * known keys refuse.
 */
export function jwksKeys(url: URL, options: JwksOptions = {}): JWTVerifyGetKey {
  const now = options.now ?? Date.now;
  const staleMaxMs = options.staleMaxMs ?? 24 * 3_600_000;
  const retryAfterMs = options.retryAfterMs ?? 10_000;
  const cache = {} as ExportedJWKSCache;
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: options.timeoutMs ?? 5_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    [jwksCache]: cache,
    [customFetch]: fetchReleasingErrors,
  });
  let failedAt = -Infinity;
  let failure = "";
  let stale: { jwks: ExportedJWKSCache["jwks"]; keys: JWTVerifyGetKey } | undefined;

  const fromStale = async (...args: Parameters<JWTVerifyGetKey>) => {
    const fresh = cache.jwks !== undefined && now() - cache.uat < staleMaxMs;
    if (!fresh) throw new JwksUnavailableError(failure);
    if (stale?.jwks !== cache.jwks) {
      stale = { jwks: cache.jwks, keys: createLocalJWKSet(cache.jwks) };
    }
    try {
      return await stale.keys(...args);
    } catch (error) {
      // An unknown kid during an outage may be a key rotated in since: we cannot tell.
      if (error instanceof errors.JWKSNoMatchingKey) {
        throw new JwksUnavailableError(`${failure}; no cached key matches`, { cause: error });
      }
      throw error;
    }
  };

  return async (...args) => {
    if (now() - failedAt < retryAfterMs) return await fromStale(...args);
    try {
      return await remote(...args);
    } catch (error) {
      if (!isProviderFailure(error)) throw error;
      failedAt = now();
      failure = `cannot fetch the JWKS from ${url.origin}: ${describe(error)}`;
      return await fromStale(...args);
    }
  };
}

/**
 * `fetch`, except that the body of a non-200 answer is released at once: jose only reads the
 * status then, and an unread body would hold the connection.
 */
async function fetchReleasingErrors(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status === 200) return response;
  await response.body?.cancel();
  return new Response(null, { status: response.status });
}

/** Errors of the fetch itself (network, timeout, status, body), not of the token. */
function isProviderFailure(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true; // fetch's TypeError, DOMException
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid ||
    error.constructor === errors.JOSEError;
}

function describe(error: unknown): string {
  if (error instanceof errors.JWKSTimeout) return "timed out";
  return error instanceof Error ? error.message : String(error);
}
