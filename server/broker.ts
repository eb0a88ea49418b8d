/**
 * The embedded MQTT broker (aedes) that lets `serve` work on a fresh machine: sensors and
 * `simulate` publish to it, and the bridge subscribes to it.
 * @module
 */
import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import { StartupError } from "./errors.ts";
import { type Logger, silentLogger } from "./log.ts";

/** A running embedded broker. */
export interface EmbeddedBroker extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: { hostname: string; port: number };
  /** `mqtt://host:port` for clients. */
  readonly url: string;
  /** Disconnects every MQTT client and stops listening. */
  close(): Promise<void>;
}

/** Options of {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to bind. Default 127.0.0.1 (sensors on other hosts need `0.0.0.0`). */
  hostname?: string;
  logger?: Logger;
}

/** Starts aedes on a TCP port. Port busy: {@link StartupError} naming the fix. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const hostname = options.hostname ?? "127.0.0.1";
  const logger = options.logger ?? silentLogger;
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const code = (error as { code?: string }).code;
    const where = `${hostname}:${options.port}`;
    throw new StartupError(
      code === "EADDRINUSE"
        ? `Cannot start the embedded MQTT broker on ${where}: port in use. If a broker already ` +
          `runs there, use it with --mqtt-url mqtt://localhost:${options.port}; otherwise pick ` +
          `another port with --mqtt-port`
        : `Cannot start the embedded MQTT broker on ${where}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  server.on("error", (error) => logger.error("embedded broker error", { error }));
  logger.info("embedded MQTT broker listening", { url: `mqtt://${hostname}:${port}` });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
  return {
    addr: { hostname, port },
    url: `mqtt://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
