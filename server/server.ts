/**
 * The service's lifecycle: wire the parts (auth, embedded broker, bridge, hub, sockets,
 * listener) and run the shutdown sequence. Each part is its own module, tested on its own.
 * @module
 */
import { type Clock, every, systemClock } from "../lib/clock.ts";
import { StartupError } from "../lib/errors.ts";
import { Deadlines } from "../lib/deadlines.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { redactUrl } from "../lib/secrets.ts";
import { CLOSES, envelopeOf } from "../protocol/mod.ts";
import { createVerifier, type Verifier } from "./auth.ts";
import { type Bridge, startBridge } from "./bridge.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker.ts";
import { type ServerConfig, type ServerOptions, withDefaults } from "./config.ts";
import { validateConfig } from "./config_check.ts";
import type { Expiring } from "./connection_deps.ts";
import { createHandler } from "./handler.ts";
import { Hub, TICK_EXPECTED_MS } from "./hub.ts";
import type { JwksOptions } from "./jwks.ts";
import { listen, type Listener } from "./listener.ts";
import { Metrics } from "./metrics.ts";
import { SocketRegistry } from "./sockets.ts";
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

/** How long shutdown waits for clients to acknowledge the 1001 close, ms. */
const SOCKET_CLOSE_GRACE_MS = 1_000;
/** `client rejected` log lines: at most this many per second, then a count of the rest. */
const REFUSAL_LOGS_PER_SECOND = 5;

/** The parts of a running server, for the shutdown sequence. */
interface Parts {
  config: ServerConfig;
  logger: Logger;
  metrics: Metrics;
  hub: Hub;
  bridge: Bridge;
  broker: EmbeddedBroker | undefined;
  sockets: SocketRegistry;
  stopTick: () => void;
}

/**
 * Starts the service. Invalid options throw `OptionError` before anything starts; a port or
 * broker that cannot be had throws `StartupError`.
 *
 * @example Start on a free port with an embedded broker, then stop
 * ```ts
 * import { startServer } from "./server.ts";
 *
 * const server = await startServer({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   mqtt: { embeddedPort: 0 },
 *   auth: { secret: "a-development-secret-of-32-bytes!" },
 * });
 * console.log(`stream at ${server.wsUrl}, MQTT at ${server.mqttUrl}`);
 * await server.shutdown();
 * ```
 */
export async function startServer(
  options: ServerOptions = {},
  deps: ServerDeps = {},
): Promise<ServerHandle> {
  const config = validateConfig(withDefaults(options));
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const { verifier, dev } = await authOf(config, clock, deps.jwks);
  const broker = config.mqtt.url === undefined ? await embeddedBroker(config, logger) : undefined;
  const mqttUrl = config.mqtt.url ?? broker!.url;
  const metrics = new Metrics();
  const hub = hubOf(config, metrics, clock, logger);
  const bridge = bridgeOf(config, mqttUrl, { hub, metrics, clock, logger });
  const sockets = new SocketRegistry();
  const parts: Parts = {
    config,
    logger,
    metrics,
    hub,
    bridge,
    broker,
    sockets,
    stopTick: every(clock, TICK_EXPECTED_MS, () => hub.tick()),
  };
  let stopping = false;
  let listener: Listener;
  try {
    const handler = handlerOf(parts, { verifier, clock, stopping: () => stopping });
    listener = listen(config, handler, logger);
  } catch (error) {
    parts.stopTick();
    await bridge.close();
    await broker?.close();
    throw error;
  }
  metrics.bind({
    clients: () => hub.size,
    slowClients: () => hub.slowCount,
    sockets: () => sockets.size,
    lingering: () => sockets.lingering,
    mqttConnected: () => bridge.connected,
    bufferedBytes: () => hub.bufferedBytes(),
    overloaded: () => hub.overloaded,
  });
  logger.info("listening", {
    url: listener.wsUrl,
    mqtt: redactUrl(mqttUrl),
    embeddedBroker: broker !== undefined,
  });
  return handleOf(parts, listener, mqttUrl, dev, () => stopping = true);
}

/** The HTTP handler over the parts. */
function handlerOf(
  { config, hub, metrics, logger, bridge, sockets }: Parts,
  more: { verifier: Verifier; clock: Clock; stopping: () => boolean },
): ReturnType<typeof createHandler> {
  return createHandler({
    hub,
    metrics,
    logger,
    sockets,
    ...more,
    limits: config.limits,
    refusalLog: new LogLimiter(REFUSAL_LOGS_PER_SECOND, 1_000),
    expiries: new Deadlines<Expiring>(more.clock, (client) => client.expire()),
    clockToleranceMs: config.auth.clockToleranceSec * 1000,
    mqttConnected: () => bridge.connected,
    latest: () => bridge.latest(),
  });
}

/** The token verifier; in dev mode (no secret, no JWKS), a random secret and a token for it. */
async function authOf(config: ServerConfig, clock: Clock, jwks: JwksOptions | undefined) {
  let auth = config.auth;
  let dev: { secret: string; token: string } | undefined;
  if (!auth.secret && !auth.jwksUrl) {
    const secret = generateDevSecret();
    auth = { ...auth, secret };
    dev = { secret, token: await mintToken(secret, { sub: "dev", ttlSec: 24 * 3600 }) };
  }
  const verifier: Verifier = createVerifier(auth, { now: () => clock.now(), jwks });
  return { verifier, dev };
}

function embeddedBroker(config: ServerConfig, logger: Logger): Promise<EmbeddedBroker> {
  return startEmbeddedBroker({
    port: config.mqtt.embeddedPort,
    hostname: config.mqtt.embeddedHostname,
    // Configured credentials are required of every MQTT client of the embedded broker too.
    username: config.mqtt.username,
    password: config.mqtt.password,
    logger,
  });
}

function hubOf(config: ServerConfig, metrics: Metrics, clock: Clock, logger: Logger): Hub {
  return new Hub({
    maxBufferedBytes: config.limits.maxBufferedBytes,
    maxTotalBufferedBytes: config.limits.maxTotalBufferedBytes,
    slowClientTimeoutMs: config.limits.slowClientTimeoutMs,
    clock,
    logger,
    onSent: (n) => metrics.wsSent.inc(n),
    onDropped: (n) => metrics.wsDropped.inc(n),
    onConflated: (n) => metrics.conflated.inc(n),
    onClosed: (reason) => metrics.disconnects.inc(reason),
  });
}

/** The bridge, delivering readings and link changes to the hub. */
function bridgeOf(
  config: ServerConfig,
  url: string,
  { hub, metrics, clock, logger }: { hub: Hub; metrics: Metrics; clock: Clock; logger: Logger },
): Bridge {
  return startBridge({
    url,
    mqtt: config.mqtt,
    rateLimitMs: config.limits.rateLimitMs,
    maxSensors: config.limits.maxSensors,
    sensorTtlMs: config.limits.sensorTtlMs,
    metrics,
    logger,
    clock,
    onReading: (r) => {
      hub.publishReading(r.sensorId, r.text);
      metrics.readingsForwarded.inc();
      metrics.latency.observe((clock.now() - r.receivedAt) / 1000);
    },
    onStatus: (up) => {
      const mqtt = up ? "connected" as const : "disconnected" as const;
      hub.broadcast(JSON.stringify(envelopeOf("bridge_status", { mqtt }, new Date(clock.now()))));
    },
  });
}

/** The handle, with the shutdown sequence; a failed listener shuts down and rejects `finished`. */
function handleOf(
  parts: Parts,
  listener: Listener,
  mqttUrl: string,
  dev: ServerHandle["dev"],
  markStopping: () => void,
): ServerHandle {
  const done = Promise.withResolvers<void>();
  let failure: Error | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      markStopping();
      await stopParts(parts, listener);
      if (failure) done.reject(failure);
      else done.resolve();
    })();
  // The listener can die under us, e.g. out of file descriptors (Deno keeps one per aborted
  // handshake, see connection.ts): shut down and say so, so a supervisor restarts the service.
  listener.finished.catch((error: unknown) => {
    if (stopping) return;
    failure = new StartupError(
      `The HTTP listener failed: ${(error as Error)?.message ?? error}. Restart the service`,
      { cause: error },
    );
    parts.logger.error("listener failed; shutting down", { error });
    void shutdown();
  });
  return {
    addr: listener.addr,
    wsUrl: listener.wsUrl,
    httpUrl: listener.httpUrl,
    mqttUrl,
    embeddedBroker: parts.broker !== undefined,
    mqttAuth: parts.config.mqtt.username !== undefined,
    dev,
    metrics: parts.metrics,
    get sockets() {
      return parts.sockets.size;
    },
    finished: done.promise,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** Clients first (1001, a moment to answer), then the listener, MQTT and the broker. */
async function stopParts(parts: Parts, listener: Listener): Promise<void> {
  const { logger, sockets } = parts;
  logger.info("shutting down", { clients: parts.hub.size });
  parts.stopTick();
  // Our close frames go first, and get a moment to be sent. Real time, not the injected clock:
  // a test clock that stands still must not hang this.
  sockets.closeAll(CLOSES.SHUTDOWN);
  await waitUntil(() => sockets.size === 0, SOCKET_CLOSE_GRACE_MS);
  sockets.releaseAll(1006, "server stopped");
  await listener.cut();
  await parts.bridge.close();
  await parts.broker?.close();
  logger.info("stopped");
}

/** Polls `done` every 10 ms until it holds or `ms` pass. */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
