/**
 * Broker addresses as users write them (full URLs or the old service's bare host) turned into
 * the URLs MQTT.js connects to.
 * @module
 */
import { UsageError } from "./errors.ts";

const SCHEMES: Record<string, string> = {
  mqtt: "mqtt",
  mqtts: "mqtts",
  ws: "ws",
  wss: "wss",
  tcp: "mqtt",
  ssl: "mqtts",
  tls: "mqtts",
};
const URL_OPTION = "--mqtt-url / MQTT_BROKER_URL";

/**
 * Turns a broker address into an MQTT.js URL. Accepts `mqtt://`, `mqtts://`, `ws://`, `wss://`
 * (and `tcp://` -> mqtt, `ssl://`/`tls://` -> mqtts), or a bare `host` / `host:port` as the old
 * service's `MQTT_BROKER_URL` was, with `port` used when the bare host has none.
 * Throws `UsageError` naming the value (password masked) and an example.
 */
export function normalizeBrokerUrl(value: string, port: number): string {
  const text = value.trim();
  const fail = (why: string) =>
    new UsageError(
      `${URL_OPTION} '${redactUrl(value)}' ${why}; use an mqtt://, mqtts://, ws:// or ` +
        `wss:// URL, or a bare host (e.g. mqtt://broker.local:1883 or localhost)`,
    );
  const full = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(text);
  if (full) {
    const scheme = SCHEMES[full[1]!.toLowerCase()];
    if (scheme === undefined) throw fail(`has scheme '${full[1]}://', which is not MQTT`);
    const out = `${scheme}://${full[2]}`;
    let url: URL;
    try {
      url = new URL(out);
    } catch {
      throw fail("is not a valid URL");
    }
    if (url.hostname === "") throw fail("has no host");
    return out;
  }
  if (text === "") throw fail("is empty (unset it to run the embedded broker)");
  const bracketed = /^(\[[0-9A-Fa-f:.]+\])(?::(\d*))?$/.exec(text);
  const named = /^([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(?::(\d*))?$/.exec(text);
  const ipv6 = /^[0-9A-Fa-f:.]+$/.test(text) && text.split(":").length > 2;
  const host = ipv6 ? `[${text}]` : (bracketed ?? named)?.[1];
  const given = ipv6 ? undefined : (bracketed ?? named)?.[2];
  if (host === undefined) throw fail("is neither a URL nor a host name");
  if (given !== undefined) {
    const n = Number(given);
    if (given === "" || n < 1 || n > 65_535) throw fail("has a port outside 1-65535");
    return `mqtt://${host}:${n}`;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(
      `${URL_OPTION} '${text}' has no port and --mqtt-port / MQTT_BROKER_PORT is ${port}; ` +
        `give a port from 1 to 65535, e.g. ${text}:1883`,
    );
  }
  return `mqtt://${host}:${port}`;
}

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([^:/]+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}
