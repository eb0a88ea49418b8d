/**
 * The stream URL of the tail client: what users may type, what is opened, what is shown.
 * tail sends its token in the `Authorization` header, never in the URL, where proxies and
 * servers would write it to their access logs; a `?token=` typed into `--url` is taken out
 * (see {@link tokenInUrl}), and every URL that reaches a message goes through
 * {@link displayUrl}.
 * @module
 */
import { WS_PATH } from "../protocol/mod.ts";

/** Where `sensorstream serve` listens by default. */
export const DEFAULT_STREAM_URL = `ws://localhost:8000${WS_PATH}`;

/**
 * Parses a `--url` value. `http(s)://` becomes `ws(s)://` and a URL without a path gets
 * `/ws/sensors`. Throws `TypeError` naming the value when it is not a WebSocket URL.
 */
export function normalizeStreamUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new TypeError(
      `'${text}' is not a URL; use e.g. ${DEFAULT_STREAM_URL}`,
      { cause: error },
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(
      `'${text}' is not a WebSocket URL; use ws:// or wss://, e.g. ${DEFAULT_STREAM_URL}`,
    );
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = WS_PATH;
  url.hash = "";
  return url;
}

/** The URL to open: `base` without any token, with the `sensors` query when given. */
export function streamUrl(base: string | URL, sensors?: readonly string[]): string {
  const url = new URL(displayUrl(base));
  if (sensors && sensors.length > 0) url.searchParams.set("sensors", sensors.join(","));
  else url.searchParams.delete("sensors");
  return url.href.replace(/\?$/, "");
}

/** The `?token=` of a URL a user typed (e.g. copied from `serve`'s banner), if any. */
export function tokenInUrl(url: string | URL): string | undefined {
  return new URL(url).searchParams.get("token") || undefined;
}

/** `url` without its token, safe for messages and terminals. */
export function displayUrl(url: string | URL): string {
  const u = new URL(url);
  u.searchParams.delete("token");
  return u.href.replace(/\?$/, "");
}
