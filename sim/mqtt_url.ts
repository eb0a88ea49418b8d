/**
 * Broker addresses as users type them: a full URL, or just a host (and port).
 * @module
 */

/** Port of an `mqtt://` broker when none is given (where `serve`'s embedded broker listens). */
export const DEFAULT_MQTT_PORT = 1883;

const SCHEMES = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "ws:", "wss:"]);

/**
 * Turns `localhost`, `10.0.0.5:1884` or `mqtt://broker:1883` into a broker URL. A bare host
 * becomes `mqtt://host:{defaultPort}`. Throws a `TypeError` naming the value when it is not
 * usable.
 */
export function normalizeMqttUrl(text: string, defaultPort: number = DEFAULT_MQTT_PORT): string {
  const value = text.trim();
  const withScheme = value.includes("://") ? value : `mqtt://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (cause) {
    throw new TypeError(`'${text}' is not an MQTT broker URL; use e.g. mqtt://localhost:1883`, {
      cause,
    });
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new TypeError(
      `'${text}' has an unsupported scheme '${url.protocol}'; use mqtt://, mqtts://, ws:// or wss://`,
    );
  }
  if (url.hostname === "") {
    throw new TypeError(`'${text}' has no host; use e.g. mqtt://localhost:1883`);
  }
  if (!value.includes("://") && url.port === "") url.port = String(defaultPort);
  // URL adds a trailing "/" to bare hosts; MQTT.js does not need it and users did not type it.
  return url.pathname === "/" && !value.endsWith("/") ? url.href.slice(0, -1) : url.href;
}

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = "***";
    return u.href;
  } catch {
    return url;
  }
}
