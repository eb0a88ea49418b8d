/**
 * The HTTP listener: `Deno.serve` on the configured address, the URLs clients use, and the
 * one way to stop it that always returns.
 * @module
 */
import { StartupError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import { WS_PATH } from "../protocol/mod.ts";

/** A listening HTTP server. */
export interface Listener {
  readonly addr: { hostname: string; port: number };
  /** `ws://host:port/ws/sensors` (loopback when bound to all interfaces). */
  readonly wsUrl: string;
  /** `http://host:port`. */
  readonly httpUrl: string;
  /** Settles when the listener stops; rejects when it failed (e.g. out of file descriptors). */
  readonly finished: Promise<void>;
  /** Stops at once and waits (bounded) for the listener to finish. */
  cut(): Promise<void>;
}

/** How long `cut()` waits for the listener to finish, ms. */
const CUT_GRACE_MS = 1_000;

/**
 * Listens on `hostname:port`; throws {@link StartupError} naming the fix when it cannot. With
 * `reusePort`, the socket gets `SO_REUSEPORT`, so several listeners (the workers of
 * `serve --workers`) share the port and Linux spreads new connections across them.
 */
export function listen(
  address: { hostname: string; port: number; reusePort?: boolean },
  handler: Deno.ServeHandler<Deno.NetAddr>,
  logger: Logger,
): Listener {
  const controller = new AbortController();
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    http = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      ...address.reusePort ? { reusePort: true } : {},
      signal: controller.signal,
      onListen: () => {},
      onError: (error) => {
        logger.error("request failed", { error });
        return new Response("Internal server error\n", { status: 500 });
      },
    }, handler);
  } catch (error) {
    throw listenError(address, error);
  }
  const addr = { hostname: http.addr.hostname, port: http.addr.port };
  return {
    addr,
    ...urlsOf(addr),
    finished: http.finished,
    // Cut, not http.shutdown(): Deno never finishes a connection whose peer reset during the
    // upgrade, so a graceful shutdown could wait for it forever.
    async cut() {
      controller.abort();
      await settlesWithin(http.finished, CUT_GRACE_MS);
    },
  };
}

/**
 * The port `address` names (a free one for port 0), checked free now: bound without
 * `SO_REUSEPORT` for a moment, so that a port another server (even another `serve --workers`)
 * holds is an error rather than silently shared. Throws {@link StartupError} as {@link listen}.
 */
export function freePortAt(address: { hostname: string; port: number }): number {
  try {
    const probe = Deno.listen({ hostname: address.hostname, port: address.port });
    const { port } = probe.addr;
    probe.close();
    return port;
  } catch (error) {
    throw listenError(address, error);
  }
}

function listenError(address: { hostname: string; port: number }, error: unknown): StartupError {
  const where = `${address.hostname}:${address.port}`;
  return new StartupError(
    error instanceof Deno.errors.AddrInUse
      ? `Cannot listen on ${where}: port in use. Stop what runs there or pick another port ` +
        `with {port}`
      : `Cannot listen on ${where}: ${(error as Error).message}`,
    { cause: error },
  );
}

/** The URLs clients use for a listening address (loopback when bound to all interfaces). */
export function urlsOf(
  addr: { hostname: string; port: number },
): { wsUrl: string; httpUrl: string } {
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::" ? "localhost" : addr.hostname;
  const authority = `${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
  return { wsUrl: `ws://${authority}${WS_PATH}`, httpUrl: `http://${authority}` };
}

/** Whether `promise` settles within `ms` (its rejection counts as settled). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = promise.then(() => true, () => true);
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
