/**
 * The service's lifecycle: validate config, start the embedded broker (when no broker URL is
 * set), the bridge, the hub and the HTTP listener; shut them down in order.
 * @module
 */
import { LogLimiter } from "../lib/log_limit.ts";
import { redactUrl } from "../lib/secrets.ts";
import { createVerifier } from "./auth.ts";
import type { JwksOptions } from "./jwks.ts";
import { startBridge } from "./bridge.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker.ts";
import { type ServerOptions, withDefaults } from "./config.ts";
import { validateConfig } from "./config_check.ts";
import { StartupError } from "../lib/errors.ts";
import { createHandler } from "./handler.ts";
import { Hub } from "./hub.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { Metrics } from "./metrics.ts";
import { CLOSES, envelopeOf, WS_PATH } from "../protocol/mod.ts";
import { SocketRegistry } from "./sockets.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { generateDevSecret, mintToken } from "./token.ts";

/** A running server. */
export interface ServerHandle extends AsyncDisposable {
  /** Where the HTTP/WebSocket listener is bound. */
  readonly addr: { hostname: string; port: number };
  /** WebSocket URL of the sensor stream (loopback when bound to all interfaces). */
  readonly wsUrl: string;
  /** HTTP base URL of the same listener (`/healthz`, `/readyz`, `/metrics`). */
  readonly httpUrl: string;
  /** URL of the MQTT broker the bridge uses (the embedded one when none was configured). */
  readonly mqttUrl: string;
  /** Whether the embedded broker is running. */
  readonly embeddedBroker: boolean;
  /** Whether the broker link uses MQTT credentials (never the credentials themselves). */
  readonly mqttAuth: boolean;
  /** In dev mode (no secret, no JWKS): the generated secret and a ready-to-use token. */
  readonly dev: { secret: string; token: string } | undefined;
  /** Counters, for tests and embedding. */
  readonly metrics: Metrics;
  /** Open WebSocket connections now, verified or not (the `sensorstream_sockets` gauge). */
  readonly sockets: number;
  /** Resolves when the server has stopped; rejects when it stopped because its listener failed. */
  readonly finished: Promise<void>;
  /** Closes clients with 1001, disconnects MQTT, stops the broker and the listener. */
  shutdown(): Promise<void>;
}

/** Injected parts, for tests. */
export interface ServerDeps {
  logger?: Logger;
  clock?: Clock;
  /** JWKS fetch and cache tuning (tests shorten the production defaults). */
  jwks?: JwksOptions;
}

/** How often slow clients are checked for drain or timeout, ms. */
const TICK_MS = 100;
/** How long shutdown waits for clients to acknowledge the 1001 close, ms. */
const SOCKET_CLOSE_GRACE_MS = 1_000;
/** How long shutdown waits for the listener's connections before cutting them, ms. */
const LISTENER_GRACE_MS = 1_000;
/** `client rejected` log lines: at most this many per second, then a count of the rest. */
const REFUSAL_LOGS_PER_SECOND = 5;

/**
 * Starts the service. Invalid options throw `OptionError` before anything starts; a port or
 * broker that cannot be had throws `StartupError`.
 */
export async function startServer(
  options: ServerOptions = {},
  deps: ServerDeps = {},
): Promise<ServerHandle> {
  const config = validateConfig(withDefaults(options));
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const now = () => clock.now();

  let dev: { secret: string; token: string } | undefined;
  let auth = config.auth;
  if (!auth.secret && !auth.jwksUrl) {
    const secret = generateDevSecret();
    auth = { ...auth, secret };
    dev = { secret, token: await mintToken(secret, { sub: "dev", ttlSec: 24 * 3600 }) };
  }
  const verifier = createVerifier(auth, { now, jwks: deps.jwks });

  let broker: EmbeddedBroker | undefined;
  if (config.mqtt.url === undefined) {
    broker = await startEmbeddedBroker({
      port: config.mqtt.embeddedPort,
      hostname: config.mqtt.embeddedHostname,
      // Configured credentials are required of every MQTT client of the embedded broker too.
      username: config.mqtt.username,
      password: config.mqtt.password,
      logger,
    });
  }
  const mqttUrl = config.mqtt.url ?? broker!.url;

  const metrics = new Metrics();
  const hub = new Hub({
    maxBufferedBytes: config.limits.maxBufferedBytes,
    slowClientTimeoutMs: config.limits.slowClientTimeoutMs,
    clock,
    logger,
    onSent: (n) => metrics.wsSent += n,
    onDropped: (n) => metrics.wsDropped += n,
    onClosed: (reason) => metrics.disconnects.inc(reason),
  });

  const bridge = startBridge({
    url: mqttUrl,
    mqtt: config.mqtt,
    rateLimitMs: config.limits.rateLimitMs,
    metrics,
    logger,
    clock,
    onReading: (r) => {
      hub.publishReading(r.sensorId, r.text);
      metrics.readingsForwarded++;
      metrics.latency.observe((clock.now() - r.receivedAt) / 1000);
    },
    onStatus: (up) => {
      const text = JSON.stringify(
        envelopeOf("bridge_status", { mqtt: up ? "connected" : "disconnected" }, new Date(now())),
      );
      hub.broadcast(text);
    },
  });

  const sockets = new SocketRegistry();
  let stopping: Promise<void> | undefined;
  const handler = createHandler({
    hub,
    verifier,
    metrics,
    limits: config.limits,
    logger,
    clock,
    refusalLog: new LogLimiter(REFUSAL_LOGS_PER_SECOND, 1_000),
    clockToleranceMs: config.auth.clockToleranceSec * 1000,
    mqttConnected: () => bridge.connected,
    latest: () => bridge.latest(),
    sockets,
    stopping: () => stopping !== undefined,
  });

  let http: Deno.HttpServer<Deno.NetAddr>;
  const cut = new AbortController();
  try {
    http = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      signal: cut.signal,
      onListen: () => {},
      onError: (error) => {
        logger.error("request failed", { error });
        return new Response("Internal server error\n", { status: 500 });
      },
    }, handler);
  } catch (error) {
    await bridge.close();
    await broker?.close();
    const inUse = error instanceof Deno.errors.AddrInUse;
    throw new StartupError(
      inUse
        ? `Cannot listen on ${config.hostname}:${config.port}: port in use. Stop what runs there ` +
          `or pick another port with --port (PORT)`
        : `Cannot listen on ${config.hostname}:${config.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const tick = setInterval(() => hub.tick(), TICK_MS);
  const addr = { hostname: http.addr.hostname, port: http.addr.port };
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::" ? "localhost" : addr.hostname;
  const authority = `${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
  const wsUrl = `ws://${authority}${WS_PATH}`;
  const httpUrl = `http://${authority}`;
  logger.info("listening", {
    url: wsUrl,
    mqtt: redactUrl(mqttUrl),
    embeddedBroker: broker !== undefined,
  });

  const done = Promise.withResolvers<void>();
  let failure: Error | undefined;
  // The listener can die under us, e.g. out of file descriptors (Deno keeps one per aborted
  // handshake, see connection.ts): shut down and say so, so a supervisor restarts the service.
  http.finished.catch((error: unknown) => {
    if (stopping) return;
    failure = new StartupError(
      `The HTTP listener failed: ${(error as Error)?.message ?? error}. Restart the service`,
      { cause: error },
    );
    logger.error("listener failed; shutting down", { error });
    void shutdown();
  });
  const shutdown = () =>
    stopping ??= (async () => {
      logger.info("shutting down", { clients: hub.size });
      clearInterval(tick);
      // Our close frames go first, and get a moment to be sent: http.shutdown() would close
      // the sockets with a reason of its own. Real time, not the injected clock: a test clock
      // that stands still must not hang this.
      sockets.closeAll(CLOSES.SHUTDOWN);
      await waitUntil(() => sockets.size === 0, SOCKET_CLOSE_GRACE_MS);
      sockets.releaseAll(1006, "server stopped");
      // Cut, not http.shutdown(): Deno never finishes a connection whose peer reset during the
      // upgrade, so a graceful shutdown could wait for it forever. Clients are gone already.
      cut.abort();
      await settlesWithin(http.finished, LISTENER_GRACE_MS);
      await bridge.close();
      await broker?.close();
      logger.info("stopped");
      if (failure) done.reject(failure);
      else done.resolve();
    })();

  return {
    addr,
    wsUrl,
    httpUrl,
    mqttUrl,
    embeddedBroker: broker !== undefined,
    mqttAuth: config.mqtt.username !== undefined,
    dev,
    metrics,
    get sockets() {
      return sockets.size;
    },
    finished: done.promise,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** Polls `done` every 10 ms until it holds or `ms` pass. */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** Whether `promise` settles within `ms` (its rejection counts as settled). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = promise.then(() => true, () => true);
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
