/**
 * Logging in to the embedded MQTT broker: the configured username and password, compared in
 * constant time.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AedesOptions, AuthenticateError } from "aedes";

/** The aedes hook that decides whether a CONNECT is let in. */
export type AuthenticateHandler = NonNullable<AedesOptions["authenticate"]>;

/**
 * An aedes `authenticate` hook that admits only clients presenting exactly `username` and
 * `password` (absent password: none or empty), or undefined when no username is set (anyone may
 * connect). Refusals answer CONNACK 4, "bad user name or password". A password without a
 * username, or an empty username, is a misconfiguration: `TypeError`.
 */
export function brokerAuthenticator(
  options: { username?: string | undefined; password?: string | undefined },
): AuthenticateHandler | undefined {
  const { username, password } = options;
  if (username === undefined) {
    if (password !== undefined) {
      throw new TypeError(
        "The embedded MQTT broker got a password but no username: set a username too, or " +
          "no password to allow anonymous clients",
      );
    }
    return undefined;
  }
  if (username === "") {
    throw new TypeError(
      "The embedded MQTT broker got an empty username: set a non-empty one, or none to allow " +
        "anonymous clients",
    );
  }
  const expectedUser = digest(username);
  const expectedPassword = digest(password ?? "");
  return (_client, user, pass, done) => {
    // Digests make both sides equal in length; both checks run before combining, so the
    // time taken does not tell which part was wrong.
    const userOk = timingSafeEqual(digest(user ?? ""), expectedUser);
    const passOk = timingSafeEqual(digest(pass ?? ""), expectedPassword);
    if (userOk && passOk) return done(null, true);
    const error = new Error("bad username or password") as AuthenticateError;
    (error as { returnCode: number }).returnCode = 4; // CONNACK 4: bad user name or password
    done(error, false);
  };
}

function digest(value: string | Uint8Array): Uint8Array {
  return createHash("sha256").update(value).digest();
}
