/**
 * Options of the {@link Hub} and their defaults, checked once at construction.
 * @module
 */
import process from "node:process";
import { type Clock, systemClock } from "../lib/clock.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import type { OverloadThresholds } from "./overload.ts";

/** Options of `Hub`. */
export interface HubOptions {
  /** A client whose transport buffers more than this enters latest-value mode. */
  maxBufferedBytes: number;
  /** All clients together buffer at most about this; each gets its share. Default: unbounded. */
  maxTotalBufferedBytes?: number;
  /** A slow client whose buffer makes no progress for this long is closed with 1013. */
  slowClientTimeoutMs: number;
  /** Clock of slow-client bookkeeping and of ticks. Default: the system clock. */
  clock?: Clock;
  /** Where send failures, slow-client closes and overload changes are logged. Default: silent. */
  logger?: Logger;
  /** When fan-out counts as overloaded (see `OverloadDetector`). */
  overload?: Partial<OverloadThresholds>;
  /** CPU time the process has used, ms. Default: `process.cpuUsage()`. */
  cpuMs?: () => number;
  /** Runs `fn` soon, after pending I/O (the next slice of a round). Default `setTimeout(fn, 1)`. */
  defer?: (fn: () => void) => void;
  /** Called with the number of messages handed to transports (once per operation). */
  onSent?(count: number): void;
  /** Called with the number of messages dropped for slow clients (once per operation). */
  onDropped?(count: number): void;
  /** Called with the number of readings replaced by a newer one before they were sent. */
  onConflated?(count: number): void;
  /** Called when the hub itself closes a client (slow consumer, failed send), with the reason. */
  onClosed?(reason: string): void;
}

/** {@link HubOptions} with every default filled in. */
export type ResolvedHubOptions = Required<Omit<HubOptions, "overload">> & {
  overload: Partial<OverloadThresholds>;
};

/** Fills in defaults; throws `RangeError` on negative or non-finite limits. */
export function resolveHubOptions(options: HubOptions): ResolvedHubOptions {
  const check = (key: string, v: number | undefined, finite: boolean) => {
    if (v === undefined || !(v >= 0) || (finite && !Number.isFinite(v))) {
      throw new RangeError(
        `Hub option ${key} must be a ${finite ? "finite " : ""}number >= 0, got ${v}`,
      );
    }
  };
  check("maxBufferedBytes", options.maxBufferedBytes, true);
  check("maxTotalBufferedBytes", options.maxTotalBufferedBytes ?? Infinity, false);
  check("slowClientTimeoutMs", options.slowClientTimeoutMs, true);
  const none = () => {};
  return {
    maxBufferedBytes: options.maxBufferedBytes,
    maxTotalBufferedBytes: options.maxTotalBufferedBytes ?? Infinity,
    slowClientTimeoutMs: options.slowClientTimeoutMs,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    overload: options.overload ?? {},
    cpuMs: options.cpuMs ?? processCpuMs,
    defer: options.defer ?? ((fn) => setTimeout(fn, 1)),
    onSent: options.onSent ?? none,
    onDropped: options.onDropped ?? none,
    onConflated: options.onConflated ?? none,
    onClosed: options.onClosed ?? none,
  };
}

/** CPU time (user and system) this process has used, ms. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
