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
 * `text` with the password of any `user:password@` part replaced by {@link MASK}. The user
 * info runs to the last `@` (a password may contain `@`), and the password from the first
 * `:` after the user. Text with no `@` is returned as is; a URL without a password keeps its
 * user name. Over-masking an `@` in a path is accepted: it can only hide, never reveal.
 */
export function redactUrl(text: string): string {
  if (!text.includes("@")) return text;
  const full = WITH_SCHEME.exec(text);
  if (full) return full[1] + maskUserInfo(full[2]!) + "@" + full[3];
  const bare = WITHOUT_SCHEME.exec(text);
  return bare ? maskUserInfo(bare[1]!) + "@" + bare[2] : text;
}

function maskUserInfo(userInfo: string): string {
  const colon = userInfo.indexOf(":");
  return colon < 0 ? userInfo : `${userInfo.slice(0, colon)}:${MASK}`;
}

/** A secret read from a file: the file's text without one trailing line break. */
export function secretFromFileText(text: string): string {
  return text.replace(/\r?\n$/, "");
}
