/**
 * What a connection counts and logs when it refuses a client or gives up on a socket: kept apart
 * from `connection.ts`, which decides when.
 * @module
 */
import type { CloseEntry } from "../protocol/mod.ts";
import type { ConnectionDeps } from "./connection_deps.ts";

/** Warn about aborted handshakes kept by the runtime at every this many. */
const LEAK_WARNING_EVERY = 1_000;

/** Counts a refused client, and logs it within the refusal log's rate. */
export function logRefusal(
  deps: Pick<ConnectionDeps, "metrics" | "logger" | "clock" | "refusalLog">,
  remote: string,
  refusal: { close: CloseEntry; detail: string },
): void {
  const { metrics, logger, clock, refusalLog } = deps;
  const { close, detail } = refusal;
  metrics.rejections.inc(close.reason);
  const decision = refusalLog.take(clock.now());
  if (!decision.log) return;
  logger.info("client rejected", {
    remote,
    code: close.code,
    reason: close.reason,
    detail,
    suppressed: decision.suppressed,
  });
}

/** Counts a socket given up on at `stage`; warns as aborted handshakes pile up. */
export function logAbandoned(
  deps: Pick<ConnectionDeps, "metrics" | "logger">,
  remote: string,
  stage: "handshake" | "close",
): void {
  const { metrics, logger } = deps;
  metrics.socketsAbandoned.inc(stage);
  logger.debug("socket abandoned", { remote, stage });
  const leaked = metrics.socketsAbandoned.get("handshake");
  if (stage === "handshake" && leaked % LEAK_WARNING_EVERY === 0) {
    logger.warn("aborted handshakes are piling up in the runtime", {
      count: leaked,
      advice: "Deno keeps a socket for each; restart this instance in a quiet hour",
    });
  }
}
