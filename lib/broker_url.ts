/**
 * Broker addresses as users write them (full URLs or the old service's bare host) turned into
 * what MQTT.js connects to: a URL without credentials, and the credentials apart, decoded.
 * Keeping credentials out of the URL means no URL we log or print can carry a password.
 * @module
 */
import { redactUrl } from "./secrets.ts";

export { redactUrl };

/** A broker to connect to. */
export interface BrokerAddress {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` URL without user info: safe to print. */
  url: string;
  /** User name from the URL's user info, decoded; `undefined` when it had none. */
  username: string | undefined;
  /** Password from the URL's user info, decoded; `undefined` when it had none. */
  password: string | undefined;
}

const SCHEMES: Record<string, string> = {
  mqtt: "mqtt",
  mqtts: "mqtts",
  ws: "ws",
  wss: "wss",
  tcp: "mqtt",
  ssl: "mqtts",
  tls: "mqtts",
};

/**
 * Parses a broker address. Accepts `mqtt://`, `mqtts://`, `ws://`, `wss://` (and `tcp://` ->
 * mqtt, `ssl://`/`tls://` -> mqtts), or a bare `host` / `host:port` as the old service's
 * `MQTT_BROKER_URL` was, with `port` used when the bare host has none. A password may hold any
 * character, `@`, `/` and `:` included, raw or percent-encoded. Throws `RangeError` quoting the
 * value (password masked) with an example; its message reads on after the option's name.
 */
export function parseBrokerUrl(value: string, port: number): BrokerAddress {
  const text = value.trim();
  const fail = (why: string) =>
    new RangeError(
      `'${redactUrl(text)}' ${why}; use an mqtt://, mqtts://, ws:// or ` +
        `wss:// URL, or a bare host (e.g. mqtt://broker.local:1883 or localhost)`,
    );
  const full = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (full) {
    const scheme = SCHEMES[full[1]!.toLowerCase()];
    if (scheme === undefined) throw fail(`has scheme '${full[1]}://', which is not MQTT`);
    const rest = full[2]!;
    // The user info runs to the last '@': a raw password may contain '@', '/' or ':'.
    const at = rest.lastIndexOf("@");
    const userInfo = at < 0 ? undefined : rest.slice(0, at);
    const out = `${scheme}://${at < 0 ? rest : rest.slice(at + 1)}`;
    const url = URL.parse(out);
    if (url === null) throw fail("is not a valid URL");
    if (url.hostname === "") throw fail("has no host");
    const credentials = userInfo === undefined ? undefined : splitUserInfo(userInfo, fail);
    return {
      url: out,
      username: credentials?.username,
      password: credentials?.password,
    };
  }
  if (text === "") throw fail("is empty (unset it to run the embedded broker)");
  return { url: bareHostUrl(text, port, fail), username: undefined, password: undefined };
}

function splitUserInfo(
  userInfo: string,
  fail: (why: string) => RangeError,
): { username: string; password: string | undefined } {
  const colon = userInfo.indexOf(":");
  // %XX is decoded (RFC 3986); a '%' not followed by two hex digits is taken literally.
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"));
    } catch {
      throw fail(`has a ${what} whose %-escapes are not UTF-8 (write '%25' for a literal '%')`);
    }
  };
  const username = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), "user name");
  if (username === "") throw fail("has a password but no user name");
  return {
    username,
    password: colon < 0 ? undefined : decode(userInfo.slice(colon + 1), "password"),
  };
}

function bareHostUrl(text: string, port: number, fail: (why: string) => RangeError): string {
  if (text.includes("@")) throw fail("has user info but no scheme (write mqtt://user:pass@host)");
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
    throw new RangeError(
      `'${text}' has no port and the port to add is ${port}; give a port from 1 to 65535, ` +
        `e.g. ${text}:1883`,
    );
  }
  return `mqtt://${host}:${port}`;
}
