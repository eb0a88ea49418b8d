/** Shared test helpers: real Mosquitto, free ports, bounded waits, WebSocket probes. */
import { SignJWT } from "jose";
import mqtt from "mqtt";
import { type ServerMessage, ServerMessageSchema } from "../protocol/mod.ts";

/** A JWT secret long enough for `serve`. */
export const TEST_SECRET = "test-secret-test-secret-test-secret-0123";

/** Rejects with a clear message if `promise` does not settle within `ms`. */
export async function within<T>(ms: number, promise: Promise<T>, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 20 ms until it returns true, for at most `ms`. */
export async function waitFor(check: () => boolean, ms = 3_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Mints an HS256 token for tests. */
export async function mintTestToken(
  claims: Record<string, unknown> = {},
  options: { secret?: string; sub?: string; expiresIn?: string | number; alg?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setSubject(options.sub ?? "tester").setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  else jwt.setExpirationTime("1h");
  return await jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

/** A Mosquitto broker process on a free loopback port. */
export interface Mosquitto extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Kills the broker (SIGKILL, like a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

/**
 * Spawns `mosquitto` on a free port and waits until it accepts connections. With `users`, only
 * those username/password pairs may connect.
 */
export async function startMosquitto(
  port = freePort(),
  options: { users?: Record<string, string> } = {},
): Promise<Mosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "sensorstream-mosq-" });
  const conf = `${dir}/mosquitto.conf`;
  let auth = "allow_anonymous true\n";
  if (options.users) {
    const file = `${dir}/passwd`;
    await Deno.writeTextFile(file, "");
    for (const [user, password] of Object.entries(options.users)) {
      const out = await new Deno.Command("mosquitto_passwd", { args: ["-b", file, user, password] })
        .output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    }
    // mosquitto drops root privileges to its own user, which must be able to read the file.
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(file, 0o644);
    auth = `allow_anonymous false\npassword_file ${file}\n`;
  }
  await Deno.writeTextFile(
    conf,
    `listener ${port} 127.0.0.1\n${auth}persistence false\nlog_dest none\n`,
  );
  let child: Deno.ChildProcess | undefined;
  const spawn = async () => {
    child = new Deno.Command("mosquitto", { args: ["-c", conf], stdout: "null", stderr: "null" })
      .spawn();
    await waitForPort(port, 5_000);
  };
  const kill = async () => {
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    child = undefined;
  };
  await spawn();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    kill,
    restart: spawn,
    stop: async () => {
      await kill();
      await Deno.remove(dir, { recursive: true });
    },
    async [Symbol.asyncDispose]() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (true) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`, { cause: e });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Publishes messages with a short-lived MQTT.js client. */
export async function publish(
  url: string,
  messages: Array<{ topic: string; payload: string | Record<string, unknown> }>,
): Promise<void> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  try {
    for (const m of messages) {
      const payload = typeof m.payload === "string" ? m.payload : JSON.stringify(m.payload);
      await client.publishAsync(m.topic, payload, { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

/** How a probe's socket closed. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A real WebSocket client that records and schema-checks everything it receives. */
export class WsProbe implements AsyncDisposable {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  /** Raw texts that failed the protocol schema (should stay empty). */
  readonly invalid: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseInfo>;
  /** True once the close event has fired. */
  isClosed = false;
  #waiters = new Set<() => void>();
  #cursor = new Map<string, number>();

  /** Connects to `url`; `headers` go on the upgrade request (Deno's WebSocket extension). */
  constructor(url: string, options: { headers?: Record<string, string> } = {}) {
    this.ws = options.headers
      ? new WebSocket(url, { headers: options.headers })
      : new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve(), { once: true });
      this.ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), {
        once: true,
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener("close", (e) => {
        this.isClosed = true;
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      }, { once: true });
    });
    this.ws.addEventListener("message", (e) => {
      const text = String(e.data);
      const parsed = ServerMessageSchema.safeParse(JSON.parse(text));
      if (parsed.success) this.messages.push(parsed.data);
      else this.invalid.push(text);
      this.#wake();
    });
  }

  #wake() {
    for (const w of this.#waiters) w();
  }

  /** Messages of one type received so far. */
  of<T extends ServerMessage["type"]>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.messages.filter((m) => m.type === type) as Extract<ServerMessage, { type: T }>[];
  }

  /** Waits until `check(messages)` holds. */
  async until(
    check: (messages: ServerMessage[]) => boolean,
    ms = 3_000,
    what = "messages",
  ): Promise<void> {
    if (check(this.messages)) return;
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      wake = () => {
        if (check(this.messages)) resolve();
      };
      this.#waiters.add(wake);
    });
    try {
      await within(ms, done, `waiting for ${what}`);
    } finally {
      this.#waiters.delete(wake);
    }
  }

  /** Waits for the next message of `type` not yet returned by `next` (in arrival order). */
  async next<T extends ServerMessage["type"]>(
    type: T,
    ms = 3_000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const cursor = this.#cursor.get(type) ?? 0;
    await this.until(() => this.of(type).length > cursor, ms, `a ${type} message`);
    this.#cursor.set(type, cursor + 1);
    return this.of(type)[cursor]!;
  }

  /** Sends a JSON message. */
  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Closes the socket and waits for the close to finish. */
  async close(): Promise<CloseInfo> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close(1000);
    return await within(3_000, this.closed, "websocket close");
  }

  /** Closes; fails if the server ever sent a message that broke the protocol schema. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.opened.catch(() => {});
    await this.close();
    if (this.invalid.length > 0) {
      throw new Error(`server sent messages outside the protocol: ${this.invalid.join("\n")}`);
    }
  }
}

/**
 * A raw TCP peer that completes the WebSocket handshake on `/ws/sensors` and then reads nothing:
 * a stalled or vanishing client, which no WebSocket API can imitate.
 */
export async function rawWebSocketPeer(port: number, token: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `GET /ws/sensors?token=${token} HTTP/1.1\r\nHost: x\r\n` +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  const head = new Uint8Array(1024);
  const n = await conn.read(head);
  const status = new TextDecoder().decode(head.subarray(0, n ?? 0)).split("\r\n")[0];
  if (status !== "HTTP/1.1 101 Switching Protocols") {
    conn.close();
    throw new Error(`handshake failed: ${status}`);
  }
  return conn;
}

/** One log call seen by {@link recordingLogger}. */
export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  event: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every call, for asserting on what was (and was not) logged. */
export function recordingLogger(): {
  logger: import("../lib/log.ts").Logger;
  lines: LoggedLine[];
} {
  const lines: LoggedLine[] = [];
  const at =
    (level: LoggedLine["level"]) => (event: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, event, fields });
  return {
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    lines,
  };
}

/**
 * Raw MQTT 3.1.1 packets, for what MQTT.js will not send: pipelined after a refused CONNECT,
 * oversized, or cut off mid-packet.
 */
export const rawMqtt = {
  /** A whole packet: `header` byte, remaining length, `body`. */
  packet(header: number, body: Uint8Array): Uint8Array {
    const length: number[] = [];
    let n = body.length;
    do {
      length.push((n % 128) | (n >= 128 ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return concatBytes(Uint8Array.of(header, ...length), body);
  },
  /** CONNECT, clean session, keepalive 0 (the broker never times the client out). */
  connect(clientId: string, login: { username?: string; password?: string } = {}): Uint8Array {
    const flags = 0x02 | (login.username !== undefined ? 0x80 : 0) |
      (login.password !== undefined ? 0x40 : 0);
    const parts = [mqttString("MQTT"), Uint8Array.of(4, flags, 0, 0), mqttString(clientId)];
    if (login.username !== undefined) parts.push(mqttString(login.username));
    if (login.password !== undefined) parts.push(mqttString(login.password));
    return rawMqtt.packet(0x10, concatBytes(...parts));
  },
  /** PUBLISH at QoS 0. */
  publish(topic: string, payload: string | Uint8Array, options: { retain?: boolean } = {}) {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    return rawMqtt.packet(0x30 | (options.retain ? 1 : 0), concatBytes(mqttString(topic), bytes));
  },
  /** SUBSCRIBE to one filter at QoS 0. */
  subscribe(filter: string, messageId = 1): Uint8Array {
    const body = concatBytes(Uint8Array.of(messageId >> 8, messageId & 0xff), mqttString(filter));
    return rawMqtt.packet(0x82, concatBytes(body, Uint8Array.of(0)));
  },
};

function mqttString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  return concatBytes(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff), bytes);
}

/** The bytes of `parts`, one after the other. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Everything `conn` receives until the peer closes it (EOF or reset). Fails if it is still open
 * after `ms`; the connection is closed either way.
 */
export async function readUntilClosed(conn: Deno.Conn, ms = 3_000): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const drain = (async () => {
    const buf = new Uint8Array(16 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionReset) break;
        throw error;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  })();
  try {
    await within(ms, drain, "the peer closing the connection");
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
    await drain.catch(() => {});
  }
  return concatBytes(...chunks);
}
