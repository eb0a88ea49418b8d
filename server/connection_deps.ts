/**
 * The contract between the server and one connection: what the connection needs from the
 * server, and what the client asked for in its upgrade request.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import type { Deadlines } from "../lib/deadlines.ts";
import type { LogLimiter } from "../lib/log_limit.ts";
import type { Logger } from "../lib/log.ts";
import type { Verifier } from "./auth.ts";
import type { LimitsConfig } from "./config.ts";
import type { CommandService } from "./command_service.ts";
import type { HistoryReplies } from "./history_replies.ts";
import type { Hub } from "./hub.ts";
import type { LatestReading } from "./ingest.ts";
import type { Metrics } from "./metrics.ts";
import type { SocketRegistry } from "./sockets.ts";
import type { StatusText } from "./stream.ts";

/** What a connection needs from the server. */
export interface ConnectionDeps {
  hub: Hub;
  verifier: Verifier;
  metrics: Metrics;
  limits: LimitsConfig;
  logger: Logger;
  clock: Clock;
  /** Skew allowed on token expiry, ms; an expired token's client is closed this long after `exp`. */
  clockToleranceMs: number;
  /** This serving process, as `connection_status` names it (`host:port`, `/worker` with several). */
  instance(): string;
  /** Whether the MQTT link is up. */
  mqttConnected(): boolean;
  /** Last reading of every sensor. */
  latest(): Iterable<LatestReading>;
  /** Every socket not yet released; connections add and remove themselves. */
  sockets: SocketRegistry;
  /** Rate limit of `client rejected` log lines (a flood of bad tokens must not flood the log). */
  refusalLog: LogLimiter;
  /** Token expiries of admitted clients, on one timer; calls `expire()` when one comes. */
  expiries: Deadlines<Expiring>;
  /** When to say `token_expiring`, on one timer; calls `expiringSoon()`. */
  notices: Deadlines<Expiring>;
  /** `token_expiring` goes out this long before `exp`, ms. */
  tokenRefreshWindowMs: number;
  /** Answers `history` requests. */
  history: HistoryReplies;
  /** Checks, sends and follows `command`s. */
  commands: CommandService;
  /** `sensor_status` of every stale sensor, sent after the connect snapshot. */
  staleStatuses(): Iterable<StatusText>;
}

/** A connection whose token expires. */
export interface Expiring {
  /** The token expired: count it and close the client. */
  expire(): void;
  /** The token expires within the refresh window: tell the client. */
  expiringSoon(): void;
}

/** What the client asked for in the upgrade request. */
export interface ConnectionRequest {
  /** From `Authorization: Bearer` or `?token=`; `null` when neither was given. */
  token: string | null;
  /** `?sensors=` as given; `null` or empty = all. */
  sensors: string | null;
  remoteAddr: string;
}
