/**
 * `serve --workers N`: N Web Workers in this process, each running `startServer` on the same
 * port (`SO_REUSEPORT`: Linux spreads new connections across their sockets), each with its own
 * MQTT subscription, hub and history. This thread supervises them: it runs the embedded broker
 * they all connect to, restarts a worker that dies (with backoff; its clients reconnect and land
 * on the others or on its successor), merges their metrics so that `/metrics` on any worker shows
 * every worker's, and stops them all on shutdown.
 *
 * Why threads rather than processes: measured at 10,000 clients (`deno task bench --workers`),
 * two threads and two processes sharing the port deliver as much, for the same CPU per delivery
 * and memory; but processes need `--allow-run`, which lets the program out of Deno's sandbox,
 * where threads need only to read our own modules; and a thread's metrics and logs come over
 * `postMessage`, in one process for systemd or a container to watch. The price: a fatal V8 error
 * (out of memory) in one worker ends the whole process, so keep a supervisor that restarts it.
 * @module
 */
import { StartupError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker.ts";
import { type ServerOptions, withDefaults } from "./config.ts";
import { validateConfig } from "./config_check.ts";
import { freePortAt, urlsOf } from "./listener.ts";
import { hostName, type ServerHandle, type ShutdownOptions } from "./server.ts";
import { generateDevSecret, mintDevToken } from "./token.ts";
import { Supervisor } from "./supervisor.ts";

/** Running workers: what a `ServerHandle` says of one server, said of them all. */
export interface WorkersHandle extends
  Pick<
    ServerHandle,
    "addr" | "wsUrl" | "httpUrl" | "mqttUrl" | "embeddedBroker" | "mqttAuth" | "dev" | "finished"
  >,
  AsyncDisposable {
  /** How many workers serve. */
  readonly workers: number;
  /** Open WebSocket connections of all workers, as last reported (about once a second). */
  readonly sockets: number;
  /** Workers restarted (and serving again) since the start. */
  readonly restarts: number;
  /** The merged `/metrics` text now (what the workers serve, at most about a second old). */
  metricsText(): string;
  /** Stops every worker (each closes its clients with 1001, after the drain delay when asked). */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** Injected parts, for tests. */
export interface WorkersDeps {
  logger?: Logger;
  /** The worker's module (tests wrap `worker_main.ts` to make a worker fail). */
  workerUrl?: URL;
  /** Restart delays: the first, doubling up to the longest. Default 500 ms to 10 s. */
  restartMs?: { min: number; max: number };
}

/**
 * Whether this process may set `SO_REUSEPORT`. Deno 2.9 gates it behind `--unstable-net` and
 * ends the whole process (exit 70) when a worker asks for it without the flag, so ask first:
 * `Deno.listenDatagram` exists exactly when that flag is given.
 */
export function reusePortAvailable(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

/** The folders a worker loads modules from (the architecture allows it no others). */
const SOURCES = ["./", "../lib/", "../protocol/"].map((path) => new URL(path, import.meta.url));

/**
 * Throws {@link StartupError} naming the flag when workers could not run: Deno 2.9 gates
 * `SO_REUSEPORT` behind `--unstable-net` (and a worker asking without it ends the whole process,
 * exit 70, so ask first), and a Web Worker loads its modules from disk, which needs read access to
 * them (a compiled binary carries them inside).
 */
function checkCanRun(count: number, workerUrl: URL): void {
  if (!reusePortAvailable()) {
    throw new StartupError(
      `${count} workers need SO_REUSEPORT, which Deno ${Deno.version.deno} allows only with ` +
        "--unstable-net: run deno with --unstable-net (deno task serve has it), or use one worker",
    );
  }
  // A compiled binary loads them from inside itself, without asking.
  if (Deno.build.standalone) return;
  const inSources = SOURCES.some((dir) => workerUrl.href.startsWith(dir.href));
  const sources = [...SOURCES, ...inSources ? [] : [workerUrl]]
    .filter((url) => url.protocol === "file:");
  const unreadable = sources.filter((url) =>
    Deno.permissions.querySync({ name: "read", path: url }).state !== "granted"
  );
  if (unreadable.length > 0) {
    const paths = unreadable.map((url) => decodeURIComponent(url.pathname).replace(/\/$/, ""));
    throw new StartupError(
      `${count} workers need to read sensorstream's own modules (each worker loads them): run ` +
        `deno with --allow-read=${paths.join(",")} (deno task serve has it), or use one worker`,
    );
  }
}

/**
 * Starts `workers` workers on one port. Invalid options throw `OptionError`, and a port or broker
 * that cannot be had, a worker that cannot start or a missing `--unstable-net` throw
 * `StartupError`, before anything serves.
 */
export async function startWorkers(
  options: ServerOptions,
  count: number,
  deps: WorkersDeps = {},
): Promise<WorkersHandle> {
  const config = validateConfig(withDefaults(options));
  const logger = deps.logger ?? silentLogger;
  const workerUrl = deps.workerUrl ?? new URL("./worker_main.ts", import.meta.url);
  checkCanRun(count, workerUrl);
  let dev: WorkersHandle["dev"];
  let secret = config.auth.secret;
  if (!secret && !config.auth.jwksUrl) {
    // One secret for all workers, so that a token works whichever worker a client lands on.
    secret = generateDevSecret();
    dev = { secret, token: await mintDevToken(secret) };
  }
  const port = freePortAt(config);
  const broker = config.mqtt.url === undefined
    ? await startEmbeddedBroker({
      port: config.mqtt.embeddedPort,
      hostname: config.mqtt.embeddedHostname,
      username: config.mqtt.username,
      password: config.mqtt.password,
      logger,
    })
    : undefined;
  const mqttUrl = config.mqtt.url ?? broker!.url;
  const instance = config.instance ?? `${hostName()}:${port}`;
  const optionsOf = (index: number): ServerOptions => ({
    ...options,
    port,
    reusePort: true,
    instance: `${instance}/${index}`,
    auth: { ...options.auth, secret },
    mqtt: {
      ...options.mqtt,
      url: mqttUrl,
      // One MQTT session per worker: the same id twice and the broker would drop the other one.
      clientId: config.mqtt.clientId === undefined ? undefined : `${config.mqtt.clientId}-${index}`,
    },
  });
  const supervisor = new Supervisor({
    count,
    optionsOf,
    logger,
    logLevel: config.log.level,
    workerUrl,
    restartMs: deps.restartMs ?? { min: 500, max: 10_000 },
  });
  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.stop(false);
    await broker?.close();
    throw error;
  }
  logger.info("workers serving", { workers: count, port, mqtt: broker ? "embedded" : "external" });
  return handleOf(supervisor, broker, {
    addr: { hostname: config.hostname, port },
    ...urlsOf({ hostname: config.hostname, port }),
    mqttUrl,
    embeddedBroker: broker !== undefined,
    mqttAuth: config.mqtt.username !== undefined,
    dev,
  });
}

function handleOf(
  supervisor: Supervisor,
  broker: EmbeddedBroker | undefined,
  facts: Pick<
    WorkersHandle,
    "addr" | "wsUrl" | "httpUrl" | "mqttUrl" | "embeddedBroker" | "mqttAuth" | "dev"
  >,
): WorkersHandle {
  const done = Promise.withResolvers<void>();
  let stopping: Promise<void> | undefined;
  const shutdown = (options: ShutdownOptions = {}) => {
    if (stopping && !options.drain) supervisor.endDrain();
    return stopping ??= (async () => {
      await supervisor.stop(options.drain ?? false);
      await broker?.close();
      done.resolve();
    })();
  };
  return {
    ...facts,
    workers: supervisor.count,
    get sockets() {
      return supervisor.sockets();
    },
    get restarts() {
      return supervisor.restarts;
    },
    metricsText: () => supervisor.render(),
    finished: done.promise,
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}
