/**
 * `serve --workers N`: one server, or N workers sharing the port (`server/workers.ts`). Where the
 * kernel cannot spread connections over several sockets (anything but Linux), one worker serves,
 * and the log says so.
 * @module
 */
import type { Logger } from "../lib/log.ts";
import type { ServerOptions } from "../server/config.ts";
import { type ServerHandle, startServer } from "../server/server.ts";
import { startWorkers, type WorkersHandle } from "../server/workers.ts";

/** What `serve` needs of what serves, one server or several workers. */
export type ServingHandle = ServerHandle | WorkersHandle;

/** Starts `workers` workers (1: a plain server, no Worker at all). */
export function startServing(
  options: ServerOptions,
  { workers, logger }: { workers: number; logger: Logger },
): Promise<ServingHandle> {
  if (workers <= 1) return startServer(options, { logger });
  if (Deno.build.os !== "linux") {
    // Elsewhere SO_REUSEPORT does not spread connections (macOS gives them all to one socket).
    logger.warn("--workers needs Linux to share the port; serving with one worker", {
      workers,
      os: Deno.build.os,
    });
    return startServer(options, { logger });
  }
  return startWorkers(options, workers, { logger });
}
