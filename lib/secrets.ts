/**
 * The secret rule: what counts as a secret in text we print, and how it is masked. Passwords
 * in broker URLs are masked whole, whatever characters they hold (`@`, `/`, `:`, `%`, …), and
 * also in text that is not a valid URL, so an error about a malformed URL cannot leak one.
 * @module
 */

/** What a masked secret is replaced by. */
export const MASK = "***";

const WITH_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)@([^@]*)$/s;
const WITHOUT_SCHEME = /^(.*)@([^@]*)$/s;

/**
 * `text` with its secrets masked by {@link MASK}: the password of a `user:password@` part (the
 * user info runs to the last `@`, since a password may contain `@`; the password from the first
 * `:`), a user name given without a password (some brokers take a token as the user name), and
 * every query value (`?token=…`). Over-masking an `@` in a path is accepted: it can only hide,
 * never reveal.
 */
export function redactUrl(text: string): string {
  return maskQuery(maskUserInfo(text));
}

function maskUserInfo(text: string): string {
  if (!text.includes("@")) return text;
  const full = WITH_SCHEME.exec(text);
  if (full) return full[1] + maskCredentials(full[2]!) + "@" + full[3];
  const bare = WITHOUT_SCHEME.exec(text);
  return bare ? maskCredentials(bare[1]!) + "@" + bare[2] : text;
}

function maskCredentials(userInfo: string): string {
  const colon = userInfo.indexOf(":");
  return colon < 0 ? MASK : `${userInfo.slice(0, colon)}:${MASK}`;
}

function maskQuery(text: string): string {
  const q = text.indexOf("?");
  if (q < 0) return text;
  return text.slice(0, q) + text.slice(q).replace(/([?&][^=&#]*=)[^&#]*/g, `$1${MASK}`);
}

/** A secret read from a file: the file's text without one trailing line break. */
export function secretFromFileText(text: string): string {
  return text.replace(/\r?\n$/, "");
}
