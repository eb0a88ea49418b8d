/**
 * The embedded MQTT broker (aedes) that lets `serve` work on a fresh machine: sensors and
 * `simulate` publish to it, and the bridge subscribes to it. It refuses oversized packets,
 * bounds what it retains, optionally requires a login, and logs (rate-limited) rather than
 * crashes on whatever its clients send.
 * @module
 */
import type { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import { LogLimiter } from "../lib/log_limit.ts";
import { clipForLog as clip } from "../lib/sanitize.ts";
import {
  MAX_MQTT_PACKET_BYTES,
  MAX_RETAINED_BYTES,
  MAX_RETAINED_TOPICS,
  PacketSizeGuard,
  RetainedBudget,
} from "./broker_limits.ts";
import { brokerAuthenticator } from "./broker_auth.ts";
import { StartupError } from "../lib/errors.ts";
import { type LogFields, type Logger, silentLogger } from "../lib/log.ts";

/** A running embedded broker. */
export interface EmbeddedBroker extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: { hostname: string; port: number };
  /** `mqtt://host:port` for clients. */
  readonly url: string;
  /** Retained messages stored now (at most {@link MAX_RETAINED_TOPICS} / {@link MAX_RETAINED_BYTES}). */
  readonly retained: { readonly topics: number; readonly bytes: number };
  /** Disconnects every MQTT client and stops listening. */
  close(): Promise<void>;
}

/** Options of {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to bind. Default 127.0.0.1 (sensors on other hosts need `0.0.0.0`). */
  hostname?: string;
  /** When set, every MQTT client must log in with this username and `password`. */
  username?: string;
  /** The password that goes with `username`; unset means clients must send none (or empty). */
  password?: string;
  /** Where startup and (rate-limited) client-error lines go. */
  logger?: Logger;
}

/** Broker log lines: at most one per kind (client, connection, retained, ...) per this many ms. */
const BROKER_LOG_INTERVAL_MS = 10_000;

/** Writes one warning per kind per interval, so a flood of bad clients cannot flood the log. */
type LimitedWarn = (kind: LogKind, event: string, fields: LogFields) => void;
type LogKind = "client" | "connection" | "broker" | "server" | "retained";

function limitedWarn(logger: Logger): LimitedWarn {
  const limiters = new Map<LogKind, LogLimiter>();
  return (kind, event, fields) => {
    let limiter = limiters.get(kind);
    if (!limiter) limiters.set(kind, limiter = new LogLimiter(1, BROKER_LOG_INTERVAL_MS));
    const decision = limiter.take(Date.now());
    if (decision.log) logger.warn(event, { ...fields, suppressed: decision.suppressed });
  };
}

/**
 * Starts aedes on a TCP port. Port busy: {@link StartupError} naming the fix. A `password`
 * without a `username`, or an empty `username`: `TypeError`, before anything starts.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const hostname = options.hostname ?? "127.0.0.1";
  const logger = options.logger ?? silentLogger;
  const authenticate = brokerAuthenticator(options);
  const warn = limitedWarn(logger);
  const aedes = await Aedes.createBroker(authenticate ? { authenticate } : {});
  const retained = boundRetained(aedes, warn);
  reportErrors(aedes, warn);
  const server: Server = createServer((socket) => accept(aedes, socket));
  await listen(server, aedes, hostname, options.port);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  server.on(
    "error",
    (error) => warn("server", "embedded MQTT broker listener error (it keeps serving)", { error }),
  );
  logger.info("embedded MQTT broker listening", {
    url: `mqtt://${hostname}:${port}`,
    login: authenticate ? "required" : "anonymous",
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
  return {
    addr: { hostname, port },
    url: `mqtt://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}`,
    get retained() {
      return { topics: retained.topics, bytes: retained.bytes };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Binds `server`; on failure closes `aedes` and throws a {@link StartupError} naming the fix. */
async function listen(server: Server, aedes: Aedes, hostname: string, port: number) {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const code = (error as { code?: string }).code;
    const where = `${hostname}:${port}`;
    throw new StartupError(
      code === "EADDRINUSE"
        ? `Cannot start the embedded MQTT broker on ${where}: port in use. If a broker already ` +
          `runs there, use it: set {mqtt.url} to mqtt://localhost:${port}; otherwise pick ` +
          `another port with {mqtt.embeddedPort}`
        : `Cannot start the embedded MQTT broker on ${where}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Hands a connection to aedes behind a {@link PacketSizeGuard}.
 *
 * Neither aedes 1.2 nor mqtt-packet 9 has a maximum packet size: mqtt-packet's parser keeps
 * appending bytes until the whole announced remaining length (up to 256 MB) has arrived. So the
 * limit sits at the earliest hook we have, the socket: a `data` listener attached after aedes's
 * `readable` one sees each chunk as aedes reads it (Node streams emit `data` from `read()`),
 * follows the MQTT framing, and destroys the socket when a header announces more than
 * {@link MAX_MQTT_PACKET_BYTES}. At most one socket read (the stream's high-water mark) of such
 * a packet is ever held, never the whole packet. aedes reports the destroy error as a
 * `clientError` / `connectionError`, which {@link reportErrors} logs.
 */
function accept(aedes: Aedes, socket: Socket): void {
  // aedes reports socket errors through its client; this only makes sure none is unhandled.
  socket.on("error", () => {});
  aedes.handle(socket);
  const guard = new PacketSizeGuard(MAX_MQTT_PACKET_BYTES);
  const onData = (chunk: Uint8Array) => {
    const problem = guard.scan(chunk);
    if (!problem) return;
    socket.off("data", onData);
    socket.destroy(
      problem.kind === "too_large"
        ? new RangeError(
          `MQTT packet of ${problem.bytes} bytes refused: the embedded broker accepts at most ` +
            `${MAX_MQTT_PACKET_BYTES} (send smaller messages, or use an external broker)`,
        )
        : new SyntaxError("malformed MQTT packet length: connection closed"),
    );
  };
  socket.on("data", onData);
}

/** Logs the errors of clients, connections and the broker itself instead of crashing on them. */
function reportErrors(aedes: Aedes, warn: LimitedWarn): void {
  aedes.on(
    "clientError",
    (client, error) =>
      warn("client", "embedded MQTT broker dropped a client", {
        clientId: clip(client.id ?? ""),
        error: clip(error.message),
      }),
  );
  aedes.on(
    "connectionError",
    (_client, error) =>
      warn("connection", "embedded MQTT broker dropped a connection before CONNECT", {
        error: clip(error.message),
      }),
  );
  // aedes emits 'error' for persistence failures; an EventEmitter with no listener would throw.
  (aedes as EventEmitter).on(
    "error",
    (error: unknown) =>
      warn("broker", "embedded MQTT broker internal error (it keeps serving)", { error }),
  );
}

/** The persistence method aedes calls for every retained publish. */
interface RetainedStore {
  storeRetained(packet: { topic: string; payload: Uint8Array }): Promise<void>;
}

/**
 * Puts a {@link RetainedBudget} in front of aedes's retained store. aedes stores a retained
 * publish before delivering it, through `persistence.storeRetained`; the wrapper stores it only
 * within budget (clearing the topic's older value otherwise), so delivery is unaffected.
 */
function boundRetained(aedes: Aedes, warn: LimitedWarn): RetainedBudget {
  const budget = new RetainedBudget({
    maxTopics: MAX_RETAINED_TOPICS,
    maxBytes: MAX_RETAINED_BYTES,
  });
  const persistence = (aedes as unknown as { persistence: RetainedStore }).persistence;
  const store = persistence.storeRetained.bind(persistence);
  persistence.storeRetained = async (packet) => {
    if (budget.admit(packet.topic, packet.payload.byteLength)) return await store(packet);
    warn("retained", "embedded MQTT broker retained store full: message delivered, not stored", {
      topic: clip(packet.topic),
      bytes: packet.payload.byteLength,
      maxTopics: MAX_RETAINED_TOPICS,
      maxBytes: MAX_RETAINED_BYTES,
    });
    await store({ ...packet, payload: new Uint8Array(0) });
  };
  return budget;
}
