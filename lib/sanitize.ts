/**
 * Makes text from elsewhere (the network, a broker, a close reason) safe to print. Control
 * characters in it can clear the screen, move the cursor, retitle the window or ring the bell
 * (C0, DEL and the C1 set, where U+009B is a one-character CSI), and the bidi controls reorder
 * what the reader sees ("Trojan Source"). They become visible escapes instead.
 * @module
 */

// The characters: C0, DEL and C1, the Arabic letter mark, LRM/RLM, the line and paragraph
// separators (log readers split lines on them), the bidi embeddings and overrides (LRE..RLO)
// and the isolates (LRI..PDI).
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const CONTROL_ALL = new RegExp(CONTROL.source, "g");
// Inside valid JSON these can only be whitespace between tokens (strings must escape them).
const JSON_WHITESPACE = new Set(["\t", "\n", "\r"]);
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** True when `text` holds a character {@link escapeControl} would escape. */
export function hasControl(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * `text` with every control and bidi control character written as a visible escape:
 * `\n`, `\r`, `\t`, `\x1b`, `\x9b`, `\u202e`. Everything else, non-ASCII letters and emoji
 * included, is unchanged; text with nothing to escape is returned as is.
 */
export function escapeControl(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL_ALL, (c) => NAMED[c] ?? hexEscape(c, "x"));
}

/**
 * Serialized JSON without raw control characters, with the same value: JSON.stringify
 * leaves DEL, C1 and bidi controls raw inside strings, so they become `\uXXXX`; tab, CR and LF
 * (valid JSON has them only as whitespace between tokens) become spaces, which also keeps the
 * text on one line for NDJSON. Text that is not valid JSON still comes out free of controls.
 */
export function escapeControlInJson(json: string): string {
  if (!CONTROL.test(json)) return json;
  return json.replace(CONTROL_ALL, (c) => JSON_WHITESPACE.has(c) ? " " : hexEscape(c, "u"));
}

function hexEscape(c: string, style: "x" | "u"): string {
  const code = c.charCodeAt(0);
  const hex = code.toString(16).padStart(style === "x" && code <= 0xff ? 2 : 4, "0");
  return style === "x" && code <= 0xff ? `\\x${hex}` : `\\u${hex}`;
}

/** Longest piece of untrusted text (a topic, a client id, a parse error) put in a log line. */
export const MAX_LOGGED_TEXT = 200;

/**
 * `text` cut to {@link MAX_LOGGED_TEXT} characters (with `…` when cut): what a peer chose must
 * not make log lines arbitrarily long. Escaping is the logger's job.
 */
export function clipForLog(text: string): string {
  return text.length > MAX_LOGGED_TEXT ? text.slice(0, MAX_LOGGED_TEXT) + "…" : text;
}
