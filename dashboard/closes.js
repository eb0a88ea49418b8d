// @ts-check
/**
 * A closed connection in plain words, and what the page does next, pure. The close table
 * (`protocol/close.ts`, copied into `protocol.js` when the assets are generated) decides whether
 * to reconnect, back off or stop; the words for the token's closes are the dashboard's own, as
 * those are the ones its user can act on (paste another token).
 * @module
 */
import { CLOSES } from "./protocol.js";

/** @typedef {import("./protocol.js").Retry} Retry */

/**
 * How a connection ended.
 * @typedef {object} CloseInfo
 * @property {number} code Close code (1006: dropped without a close frame).
 * @property {string} reason The reason as the server sent it.
 * @property {string} words What happened, in a sentence for people.
 * @property {Retry} retry What to do next.
 */

/** Words for the closes a user fixes by pasting another token, by reason. */
const TOKEN_WORDS = /** @type {Record<string, string>} */ ({
  "token expired": "The token has expired.",
  "invalid token":
    "The token was refused: it is malformed, signed with another key, not yet valid, or has no expiry.",
  "missing token": "No token was given.",
});

/** Close code we use when the page drops a connection that stopped answering. */
export const NO_ANSWER = 4000;

/**
 * Describes a close: the table's advice for a close it lists, else the code's class (1008 and
 * 1009: stop; 1011 and 1013: back off; anything else, such as a dropped connection, reconnect).
 * @param {number} code @param {string} reason @returns {CloseInfo}
 */
export function describeClose(code, reason) {
  const known = CLOSES.find((e) => e.code === code && e.reason === reason);
  /** @type {Retry} */
  let retry = known?.retry ?? "reconnect";
  if (!known && (code === 1008 || code === 1009)) retry = "stop";
  if (!known && (code === 1011 || code === 1013)) retry = "backoff";
  return { code, reason, words: wordsOf(code, reason, known?.meaning), retry };
}

/** @param {number} code @param {string} reason @param {string | undefined} meaning */
function wordsOf(code, reason, meaning) {
  const token = TOKEN_WORDS[reason];
  if (token) return token;
  if (meaning) return `${meaning[0]?.toUpperCase()}${meaning.slice(1)}.`;
  if (code === NO_ANSWER) return "The server stopped answering.";
  if (code === 1006 || code === 1005 || code === 0) return "The connection was lost.";
  if (code === 1008) return "The server refused the connection.";
  if (code === 1013) return "The server asks to try again later.";
  return `The connection closed (code ${code}).`;
}
