/**
 * The service's lifecycle: wire the parts (auth, embedded broker, bridge, hub, sockets,
 * listener) and run the shutdown sequence. Each part is its own module, tested on its own.
 * @module
 */
import { type Clock, every, systemClock } from "../lib/clock.ts";
import { StartupError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { redactUrl } from "../lib/secrets.ts";
import { CLOSES } from "../protocol/mod.ts";
import { createVerifier, type Verifier } from "./auth.ts";
import { CommandService } from "./command_service.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker.ts";
import { type ServerConfig, type ServerOptions, withDefaults } from "./config.ts";
import { validateConfig } from "./config_check.ts";
import { HistoryReplies } from "./history_replies.ts";
import { TICK_EXPECTED_MS } from "./hub.ts";
import type { JwksOptions } from "./jwks.ts";
import { listen, type Listener } from "./listener.ts";
import { Metrics } from "./metrics.ts";
import { bindMetrics, bridgeOf, handlerOf, hubOf, type Parts } from "./parts.ts";
import { SocketRegistry } from "./sockets.ts";
import { Stream } from "./stream.ts";
import { generateDevSecret, mintDevToken } from "./token.ts";

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
  /**
   * Closes clients with 1001, disconnects MQTT, stops the broker and the listener; with
   * `{ drain: true }`, after the configured drain delay. Later calls return the same promise; one
   * without `drain` ends a drain at once.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** How {@link ServerHandle.shutdown} stops. */
export interface ShutdownOptions {
  /**
   * Drain first: for `drainDelayMs` (`--drain-delay`), `/readyz` says 503 and new clients are
   * refused while the connected ones keep streaming, so a load balancer's health check takes this
   * instance out of rotation before its clients are closed and reconnect through it. What `serve`
   * does on SIGTERM. Default false: stop at once, as tests, embedders and `await using` want.
   */
  drain?: boolean;
}

/** Injected parts, for tests. */
export interface ServerDeps {
  logger?: Logger;
  clock?: Clock;
  /** JWKS fetch and cache tuning (tests shorten the production defaults). */
  jwks?: JwksOptions;
  /** The metrics to count into (a worker of `serve --workers` renders every worker's). */
  metrics?: Metrics;
}

/** How long shutdown waits for clients to acknowledge the 1001 close, ms. */
const SOCKET_CLOSE_GRACE_MS = 1_000;

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
  const ctx = { config, metrics: deps.metrics ?? new Metrics(), clock, logger };
  const hub = hubOf(ctx);
  const stream = new Stream(config.stream, hub, clock);
  const replies = new HistoryReplies({
    hub,
    store: stream.history,
    clock,
    windowMs: config.stream.historyMs,
  });
  const commands = new CommandService({ ...ctx, config: config.commands, hub });
  const bridge = bridgeOf(ctx, mqttUrl, { hub, stream, commands });
  const parts: Parts = {
    ...ctx,
    hub,
    stream,
    replies,
    commands,
    bridge,
    broker,
    sockets: new SocketRegistry(),
    stopTick: every(clock, TICK_EXPECTED_MS, () => hub.tick()),
  };
  let stopping = false;
  let instance = "";
  let listener: Listener;
  try {
    const handler = handlerOf(parts, {
      verifier,
      clock,
      stopping: () => stopping,
      instance: () => instance,
    });
    listener = listen(config, handler, logger);
    instance = config.instance ?? `${hostName()}:${listener.addr.port}`;
  } catch (error) {
    await stopInner(parts);
    throw error;
  }
  bindMetrics(parts);
  logger.info("listening", {
    url: listener.wsUrl,
    mqtt: redactUrl(mqttUrl),
    embeddedBroker: broker !== undefined,
  });
  return handleOf(parts, listener, mqttUrl, dev, () => stopping = true);
}

/** The token verifier; in dev mode (no secret, no JWKS), a random secret and a token for it. */
async function authOf(config: ServerConfig, clock: Clock, jwks: JwksOptions | undefined) {
  let auth = config.auth;
  let dev: { secret: string; token: string } | undefined;
  if (!auth.secret && !auth.jwksUrl) {
    const secret = generateDevSecret();
    auth = { ...auth, secret };
    dev = { secret, token: await mintDevToken(secret) };
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
  let endDrain: (() => void) | undefined;
  const shutdown = (options: ShutdownOptions = {}) => {
    if (!options.drain) endDrain?.();
    return stopping ??= (async () => {
      markStopping();
      if (options.drain) await drain(parts, (end) => endDrain = end);
      await stopParts(parts, listener);
      if (failure) done.reject(failure);
      else done.resolve();
    })();
  };
  // The listener can die under us, e.g. out of file descriptors (Deno keeps one per aborted
  // handshake, see connection.ts): shut down and say so, so a supervisor restarts the service.
  listener.finished.catch((error: unknown) => {
    if (stopping) return endDrain?.();
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
    [Symbol.asyncDispose]: () => shutdown(),
  };
}

/**
 * The drain: everything keeps running (the handler already says 503 to `/readyz` and to new
 * upgrades) for the configured delay, or until `onEnd`'s function is called. Real time, like the
 * close grace below.
 */
async function drain(parts: Parts, onEnd: (end: () => void) => void): Promise<void> {
  const ms = parts.config.drainDelayMs;
  if (ms <= 0) return;
  parts.logger.info("draining", { clients: parts.hub.size, seconds: ms / 1000 });
  const { promise, resolve } = Promise.withResolvers<void>();
  const timer = setTimeout(resolve, ms);
  onEnd(resolve);
  await promise;
  clearTimeout(timer);
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
  await stopInner(parts);
  logger.info("stopped");
}

/** What runs behind the listener: timers, the MQTT link, the broker. */
async function stopInner(parts: Parts): Promise<void> {
  parts.stopTick();
  parts.replies.close();
  parts.commands.close();
  parts.stream.close();
  await parts.bridge.close();
  await parts.broker?.close();
}

/** Polls `done` every 10 ms until it holds or `ms` pass. */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * The machine's name when the process may read it (`--allow-sys=hostname`, which the tasks grant;
 * asked without a prompt), else `$HOSTNAME` (Kubernetes sets it to the pod's), else `localhost`.
 */
export function hostName(): string {
  const sys = Deno.permissions.querySync({ name: "sys", kind: "hostname" });
  if (sys.state === "granted") return Deno.hostname();
  const env = Deno.permissions.querySync({ name: "env", variable: "HOSTNAME" });
  return (env.state === "granted" ? Deno.env.get("HOSTNAME") : undefined) || "localhost";
}
