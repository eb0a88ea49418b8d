// @ts-check
/**
 * What the page needs to send commands, pure: which actions the token claims (from the JWT
 * payload, to offer controls: the server checks every command), the duration's range, an id.
 * @module
 */

/** Shortest, longest and default irrigation, s (the protocol's `duration_s`). */
export const DURATION = /** @type {const} */ ({ min: 1, max: 3600, value: 30 });

/**
 * The actions of a JWT's `commands` claim; none when it cannot be read. (Which sensors: the page
 * only hears of those the token may see.)
 * @param {string | undefined} token @returns {ReadonlySet<string>}
 */
export function commandsOf(token) {
  try {
    const part = (token ?? "").split(".")[1] ?? "";
    const text = atob(part.replaceAll("-", "+").replaceAll("_", "/"));
    const payload = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))),
    );
    const list = payload?.commands;
    return new Set(Array.isArray(list) ? list.filter((s) => typeof s === "string") : []);
  } catch {
    return new Set();
  }
}

/** A new command id, 16 hex digits (not `crypto.randomUUID`: browsers offer it on https only). */
export function newCommandId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
