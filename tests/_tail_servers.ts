/**
 * Small protocol-speaking WebSocket servers for the tail client tests: one on `Deno.serve`
 * that runs a script per connection, and one on raw TCP that can drop a connection without a
 * close frame, as a crashed server or a broken network does.
 */
import {
  type ClientMessage,
  ClientMessageSchema,
  envelopeOf,
  type HistoryReading,
  type ServerMessage,
  WS_PATH,
} from "../protocol/mod.ts";

/** A `sensor_reading` for `id` at second `n` of a fixed minute. */
export function reading(id: string, n: number, moisture = 40 + n): ServerMessage {
  return envelopeOf("sensor_reading", {
    sensor_id: id,
    moisture,
    temperature: 22.1,
    humidity: 65.5,
    light: 800,
  }, new Date(Date.UTC(2025, 11, 6, 14, 30, n)));
}

/** The time of {@link reading} `n`, as the server writes it. */
export function timeOf(n: number): string {
  return new Date(Date.UTC(2025, 11, 6, 14, 30, n)).toISOString();
}

/** Reading `n` of {@link reading} as a `history` reply holds it. */
export function stored(n: number, moisture = 40 + n): HistoryReading {
  return { moisture, temperature: 22.1, humidity: 65.5, light: 800, timestamp: timeOf(n) };
}

/** A `history` reply for `id` with readings `ns` (oldest first). */
export function historyReply(id: string, ns: number[], complete = true): ServerMessage {
  return envelopeOf(
    "history",
    { sensor_id: id, readings: ns.map((n) => stored(n)), complete },
    new Date(Date.UTC(2025, 11, 6, 14, 31, 0)),
  );
}

/** What every connection starts with. */
export function greeting(clients = 1): ServerMessage[] {
  const at = new Date(Date.UTC(2025, 11, 6, 14, 29, 0));
  return [
    envelopeOf("connection_status", {
      status: "connected",
      client_id: "0a1b2c3d",
      active_clients: clients,
    }, at),
    envelopeOf("bridge_status", { mqtt: "connected" }, at),
  ];
}

/** Runs on each opened socket: `n` counts connections from 1. */
export type Script = (socket: WebSocket, n: number, url: URL) => void;

/** A WebSocket server on 127.0.0.1 port 0 that runs `script` for each connection. */
export class ScriptedServer implements AsyncDisposable {
  /** Request URLs, one per connection (the sensors query included). */
  readonly requests: URL[] = [];
  /** Request headers, one per connection. */
  readonly headers: Headers[] = [];
  /**
   * What each connection's client sent, parsed with the protocol's schema (a message it does
   * not accept is kept as `{ invalid: text }`), one list per connection.
   */
  readonly received: (ClientMessage | { invalid: string })[][] = [];
  /** The sockets, one per connection, for sending from the test. */
  readonly sockets: WebSocket[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #closed: Promise<void>[] = [];
  readonly #sockets = new Set<WebSocket>();

  /** Starts listening; `port` 0 picks a free one. */
  constructor(script: Script, options: { port?: number; status?: number } = {}) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
      (req) => {
        if (options.status !== undefined) return new Response("no", { status: options.status });
        const url = new URL(req.url);
        this.requests.push(url);
        // A copy: the request's own headers are gone once it is answered.
        this.headers.push(new Headers(req.headers));
        const n = this.requests.length;
        const { socket, response } = Deno.upgradeWebSocket(req);
        this.#sockets.add(socket);
        this.sockets.push(socket);
        const received: (ClientMessage | { invalid: string })[] = [];
        this.received.push(received);
        socket.addEventListener("message", (e) => {
          const text = String(e.data);
          let parsed;
          try {
            parsed = ClientMessageSchema.safeParse(JSON.parse(text));
          } catch { /* not JSON */ }
          received.push(parsed?.success ? parsed.data : { invalid: text });
        });
        this.#closed.push(
          new Promise((resolve) =>
            socket.addEventListener("close", () => {
              this.#sockets.delete(socket);
              resolve();
            })
          ),
        );
        socket.onopen = () => script(socket, n, url);
        return response;
      },
    );
  }

  /** The stream URL. */
  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}${WS_PATH}`;
  }

  /** The bearer token of every connection, in order (`undefined` where none was sent). */
  get bearers(): (string | undefined)[] {
    return this.headers.map((h) => /^Bearer (.+)$/.exec(h.get("authorization") ?? "")?.[1]);
  }

  /** Closes the sockets still open, waits for them, and stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.#sockets) if (s.readyState === WebSocket.OPEN) s.close(1001);
    await Promise.all(this.#closed);
    await this.#server.shutdown();
  }
}

/** Sends messages as JSON text frames. */
export function sendAll(socket: WebSocket, messages: ServerMessage[]): void {
  for (const m of messages) socket.send(JSON.stringify(m));
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * A bare-TCP WebSocket server: each connection gets `frames(n)`; with `drop(n)` it then
 * closes the TCP connection without a close frame, else it waits for the client to speak
 * (its close frame) first.
 */
export class DroppingServer implements AsyncDisposable {
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #tasks: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  /** Connections accepted so far. */
  connections = 0;

  /** Starts listening on 127.0.0.1 port 0. */
  constructor(frames: (n: number) => ServerMessage[], drop: (n: number) => boolean) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          const n = ++this.connections;
          this.#tasks.push(serveRaw(conn, frames(n), drop(n)));
        }
      } catch { /* listener closed */ }
    })();
  }

  /** The stream URL. */
  get url(): string {
    return `ws://127.0.0.1:${this.#listener.addr.port}${WS_PATH}`;
  }

  /** Stops accepting and waits for open connections to finish. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    await Promise.all(this.#tasks);
  }
}

async function serveRaw(conn: Deno.TcpConn, messages: ServerMessage[], drop: boolean) {
  const enc = new TextEncoder();
  try {
    const buf = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
    const digest = await crypto.subtle.digest("SHA-1", enc.encode(key + GUID));
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await writeAll(
      conn,
      enc.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ),
    );
    for (const m of messages) await writeAll(conn, textFrame(enc.encode(JSON.stringify(m))));
    if (!drop) await conn.read(buf).catch(() => null);
  } finally {
    conn.close();
  }
}

function textFrame(payload: Uint8Array): Uint8Array {
  const long = payload.length >= 126;
  const frame = new Uint8Array(payload.length + (long ? 4 : 2));
  frame[0] = 0x81;
  if (long) {
    frame[1] = 126;
    new DataView(frame.buffer).setUint16(2, payload.length);
  } else frame[1] = payload.length;
  frame.set(payload, long ? 4 : 2);
  return frame;
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
