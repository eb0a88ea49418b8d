/**
 * One WebSocket client's life: handshake, token check, admission, the first messages, token
 * expiry, its message session, and every way it ends. Whatever happens, the socket is released
 * (out of the registry and the hub) within a bounded time: Deno sends no event for a handshake
 * whose peer reset before the 101 was written, nor for a socket whose peer never answers our
 * close frame (denoland/deno#27924), so deadlines on the injected clock stand in for them.
 * @module
 */
import type { LogLimiter } from "../lib/log_limit.ts";
import { MAX_TIMER_MS } from "../lib/clock.ts";
import type { Claims, Verifier } from "./auth.ts";
import { decideAdmission } from "./admission.ts";
import type { LatestReading } from "./bridge.ts";
import type { LimitsConfig } from "./config.ts";
import { AuthError } from "./errors.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "../lib/log.ts";
import type { Metrics } from "./metrics.ts";
import { type CloseEntry, CLOSES, envelopeOf } from "../protocol/mod.ts";
import { ClientSession } from "./session.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { SocketRegistry } from "./sockets.ts";
import type { Clock } from "../lib/clock.ts";

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
  /** Whether the MQTT link is up. */
  mqttConnected(): boolean;
  /** Last reading of every sensor. */
  latest(): Iterable<LatestReading>;
  /** Every socket not yet released; connections add and remove themselves. */
  sockets: SocketRegistry;
  /** Rate limit of `client rejected` log lines (a flood of bad tokens must not flood the log). */
  refusalLog: LogLimiter;
}

/** What the client asked for in the upgrade request. */
export interface ConnectionRequest {
  /** From `Authorization: Bearer` or `?token=`; `null` when neither was given. */
  token: string | null;
  /** `?sensors=` as given; `null` or empty = all. */
  sensors: string | null;
  remoteAddr: string;
}

/** Messages a client may send before its token is checked; more are dropped. */
const MAX_EARLY_MESSAGES = 16;
/** Longest a handshake may take before the socket is released, ms (capped by the idle timeout). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Longest we wait for the peer to answer our close frame, ms (capped by the idle timeout). */
const CLOSE_GRACE_MS = 5_000;

/** The reason Deno closes a socket with when its peer missed the ping deadline. */
const DENO_IDLE_REASON = "No response from ping frame.";
/** Our close frame goes out once the peer has sent nothing for this long, ms... */
const CLOSE_QUIET_MS = 200;
/** ...or this long after we decided to close (at most half the close grace), ms. */
const CLOSE_QUIET_MAX_MS = 2_000;
/** Warn about aborted handshakes kept by the runtime at every this many. */
const LEAK_WARNING_EVERY = 1_000;

/** How a socket that opens after its handshake deadline is closed. */
const LATE_OPEN = CLOSES.HANDSHAKE_TIMEOUT;

type Stage = "handshake" | "verifying" | "connected" | "closing" | "released";

/** Runs a freshly upgraded socket through its whole life. */
export function runConnection(
  socket: WebSocket,
  request: ConnectionRequest,
  deps: ConnectionDeps,
): void {
  new Connection(socket, request, deps).start();
}

/** One socket from upgrade to release. */
export class Connection {
  readonly #socket: WebSocket;
  readonly #request: ConnectionRequest;
  readonly #deps: ConnectionDeps;
  #stage: Stage = "handshake";
  /** Handshake deadline, then close grace: never both. */
  #deadline: unknown;
  #expiry: unknown;
  #verdict: Promise<Claims | AuthError> | undefined;
  #clientId: string | undefined;
  #session: ClientSession | undefined;
  #early: string[] = [];
  #earlyBytes = 0;
  /** What we closed with, when the close was ours. */
  #closedWith: { code: number; reason: string } | undefined;
  /** Our close frame waits for the peer to pause (see #sendCloseWhenQuiet) until this time. */
  #closeNotAfter: number | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;

  /** A connection for `socket`; nothing happens before {@link Connection.start}. */
  constructor(socket: WebSocket, request: ConnectionRequest, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#request = request;
    this.#deps = deps;
  }

  /** Registers the socket, starts the token check and arms the handshake deadline. */
  start(): void {
    const deps = this.#deps;
    const socket = this.#socket;
    deps.sockets.add(this);
    this.#verdict = deps.verifier.verify(this.#request.token)
      .catch((e: unknown) =>
        e instanceof AuthError ? e : new AuthError("invalid token", String(e))
      );
    this.#deadline = deps.clock.setTimeout(
      () => this.#abandon("handshake"),
      Math.min(HANDSHAKE_TIMEOUT_MS, deps.limits.idleTimeoutMs),
    );
    socket.onopen = () => void this.#opened();
    socket.onmessage = (e) => this.#message(e.data);
    socket.onclose = (e) => this.#closed(e.code, e.reason);
    // A failed upgrade sends only this event; an open socket's error is followed by its close.
    socket.onerror = () => {
      if (socket.readyState === WebSocket.CONNECTING) this.release(1006, "handshake failed");
    };
  }

  /** Closes with `code` and `reason`; released when the peer answers or the grace runs out. */
  close({ code, reason }: Pick<CloseEntry, "code" | "reason">): void {
    if (this.#stage === "closing" || this.#stage === "released") return;
    this.#stage = "closing";
    this.#closedWith = { code, reason };
    this.#leaveHub();
    this.#deps.clock.clearTimeout(this.#deadline);
    const grace = Math.min(CLOSE_GRACE_MS, this.#deps.limits.idleTimeoutMs);
    this.#deadline = this.#deps.clock.setTimeout(() => this.#abandon("close"), grace);
    this.#sendCloseWhenQuiet(Date.now() + Math.min(CLOSE_QUIET_MAX_MS, grace / 2));
  }

  /**
   * Sends our close frame once the peer has paused and our own frames are out: Deno drops a
   * closing socket the moment one more frame arrives, before its close frame is written, so a
   * close made while the peer's frames are still coming (a client flooding garbage) would lose
   * the frame and its reason. A peer that never pauses gets the close anyway after
   * {@link CLOSE_QUIET_MAX_MS}.
   */
  #sendCloseWhenQuiet(notAfter: number): void {
    clearTimeout(this.#quiet);
    const wait = Date.now() >= notAfter ? 0 : CLOSE_QUIET_MS;
    this.#quiet = setTimeout(() => {
      // Our own queued frames go first too: the close frame waits behind them.
      if (this.#socket.bufferedAmount > 0 && Date.now() < notAfter) {
        return this.#sendCloseWhenQuiet(notAfter);
      }
      this.#quiet = undefined;
      this.#closeNotAfter = undefined;
      const { code, reason } = this.#closedWith!;
      try {
        if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close(code, reason);
      } catch {
        this.release(1006, "close failed");
      }
    }, wait);
    this.#closeNotAfter = notAfter;
  }

  /** Forgets the socket everywhere, once; logs an admitted client's disconnect. */
  release(code: number, reason: string): void {
    if (this.#stage === "released") return;
    this.#stage = "released";
    const deps = this.#deps;
    deps.clock.clearTimeout(this.#deadline);
    clearTimeout(this.#quiet);
    this.#leaveHub();
    deps.sockets.delete(this);
    if (this.#clientId === undefined) return;
    const closed = this.#closedWith;
    deps.logger.info("client disconnected", {
      client: this.#clientId,
      code: closed?.code ?? code,
      reason: closed?.reason ?? (reason || undefined),
      by: closed ? "server" : "peer",
    });
  }

  /** The close event: the end of a socket, or of one that lingered past its close grace. */
  #closed(code: number, reason: string): void {
    this.#deps.sockets.forget(this);
    if (code === 1001 && reason === DENO_IDLE_REASON && this.#closedWith === undefined) {
      // Deno's own ping timeout: the server dropped a dead peer.
      this.#closedWith = CLOSES.IDLE_TIMEOUT;
      if (this.#clientId !== undefined) {
        this.#deps.metrics.disconnects.inc(CLOSES.IDLE_TIMEOUT.reason);
      }
    }
    this.release(code, reason);
  }

  #leaveHub(): void {
    this.#deps.clock.clearTimeout(this.#expiry);
    if (this.#clientId !== undefined) this.#deps.hub.remove(this.#clientId);
    this.#session = undefined;
    this.#early = [];
  }

  /**
   * Deno gave no event in time: the handshake died, or the peer ignores our close frame. Either
   * way the socket stops counting; one that ignores our close lingers (visible in /metrics)
   * until its close event, since Deno keeps it while the peer holds the connection.
   */
  #abandon(stage: "handshake" | "close"): void {
    const { metrics, logger, sockets } = this.#deps;
    metrics.socketsAbandoned.inc(stage);
    logger.debug("socket abandoned", { remote: this.#request.remoteAddr, stage });
    const leaked = metrics.socketsAbandoned.get("handshake");
    if (stage === "handshake" && leaked % LEAK_WARNING_EVERY === 0) {
      logger.warn("aborted handshakes are piling up in the runtime", {
        count: leaked,
        advice: "Deno keeps a socket for each; restart this instance in a quiet hour",
      });
    }
    this.release(1006, stage === "handshake" ? "handshake not completed" : "close not answered");
    if (stage === "close") sockets.linger(this);
  }

  #message(data: unknown): void {
    if (this.#session) return this.#session.onMessage(data);
    if (this.#closeNotAfter !== undefined) return this.#sendCloseWhenQuiet(this.#closeNotAfter);
    // Before the token is checked a socket holds only a few text frames within the limit.
    if (this.#stage !== "handshake" && this.#stage !== "verifying") return;
    if (frameSize(data) > this.#deps.limits.maxMessageBytes) {
      // Deno has read the frame whole already; a peer that does this before it is even known
      // gets no second chance.
      this.#deps.metrics.rejections.inc(CLOSES.MESSAGE_TOO_BIG.reason);
      return this.close(CLOSES.MESSAGE_TOO_BIG);
    }
    if (typeof data !== "string" || this.#early.length >= MAX_EARLY_MESSAGES) return;
    if (this.#earlyBytes + data.length > this.#deps.limits.maxMessageBytes) return;
    this.#early.push(data);
    this.#earlyBytes += data.length;
  }

  async #opened(): Promise<void> {
    const deps = this.#deps;
    if (this.#stage !== "handshake") {
      // Released or closed while Deno was still upgrading: finish the close now it can be sent.
      if (this.#socket.readyState === WebSocket.OPEN) {
        const { code, reason } = this.#closedWith ?? LATE_OPEN;
        this.#socket.close(code, reason);
      }
      return;
    }
    deps.clock.clearTimeout(this.#deadline);
    this.#stage = "verifying";
    const verdict = await this.#verdict!;
    if (this.#stage !== "verifying") return;
    const decision = decideAdmission({
      verdict,
      sensorsParam: this.#request.sensors,
      clients: deps.hub.size,
      maxClients: deps.limits.maxClients,
    });
    if (!decision.admitted) return this.#refuse(decision.close, decision.detail);
    this.#admit(decision.claims, decision.subscriptions, decision.denied);
  }

  #refuse(close: CloseEntry, detail: string): void {
    const { metrics, logger, clock, refusalLog } = this.#deps;
    metrics.rejections.inc(close.reason);
    const decision = refusalLog.take(clock.now());
    if (decision.log) {
      logger.info("client rejected", {
        remote: this.#request.remoteAddr,
        code: close.code,
        reason: close.reason,
        detail,
        suppressed: decision.suppressed,
      });
    }
    this.close(close);
  }

  #admit(claims: Claims, subscriptions: string[] | null, denied: string[]): void {
    const { hub, metrics, logger, clock } = this.#deps;
    const id = newClientId(hub);
    this.#clientId = id;
    this.#stage = "connected";
    const transport = new SocketTransport(
      this.#socket,
      (code, reason) => this.close({ code, reason }),
    );
    const client = hub.add(
      {
        id,
        subject: claims.sub,
        remoteAddr: this.#request.remoteAddr,
        connectedAt: clock.now(),
        allowed: claims.sensors,
      },
      transport,
      subscriptions,
    );
    metrics.connections++;
    logger.info("client connected", {
      client: id,
      sub: claims.sub,
      remote: this.#request.remoteAddr,
    });
    this.#greet(id, claims, denied);
    for (const reading of this.#deps.latest()) {
      if (hub.canSee(client, reading.sensorId)) hub.sendTo(id, reading.text);
    }
    // A send that failed on the way closed it already: nothing more to arm.
    if (this.#stage !== "connected") return;
    if (claims.expiresAt !== undefined) {
      this.#armExpiry(claims.expiresAt + this.#deps.clockToleranceMs);
    }
    this.#startSession(id);
  }

  #greet(id: string, claims: Claims, denied: string[]): void {
    const { hub, clock } = this.#deps;
    const at = new Date(clock.now());
    const status = { status: "connected" as const, client_id: id, active_clients: hub.size };
    hub.sendTo(id, JSON.stringify(envelopeOf("connection_status", status, at)));
    const mqtt = this.#deps.mqttConnected() ? "connected" as const : "disconnected" as const;
    hub.sendTo(id, JSON.stringify(envelopeOf("bridge_status", { mqtt }, at)));
    if (denied.length > 0) {
      // Otherwise a client asking only for sensors its token excludes would wait in silence.
      const message = `not permitted by your token: ${denied.join(", ")}; it may see ` +
        ([...claims.sensors!].join(", ") || "no sensors");
      hub.sendTo(id, JSON.stringify(envelopeOf("error", { code: "invalid_message", message }, at)));
    }
  }

  /** Closes at `closeAt`; a lifetime past what a timer holds re-arms it on the way. */
  #armExpiry(closeAt: number): void {
    const { clock, metrics } = this.#deps;
    const ms = closeAt - clock.now();
    this.#expiry = clock.setTimeout(() => {
      if (closeAt > clock.now()) return this.#armExpiry(closeAt);
      metrics.disconnects.inc(CLOSES.TOKEN_EXPIRED.reason);
      this.close(CLOSES.TOKEN_EXPIRED);
    }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  }

  #startSession(id: string): void {
    const { hub, metrics, limits, clock } = this.#deps;
    this.#session = new ClientSession(id, {
      hub,
      metrics,
      limits,
      now: () => clock.now(),
      close: (close) => {
        metrics.disconnects.inc(close.reason);
        this.close(close);
      },
    });
    const queued = this.#early;
    this.#early = [];
    for (const data of queued) this.#session?.onMessage(data);
  }
}

function newClientId(hub: Hub): string {
  while (true) {
    const id = crypto.randomUUID().slice(0, 8);
    if (!hub.get(id)) return id;
  }
}

/** A message event's size: UTF-16 units of text (a lower bound of its bytes), or bytes. */
function frameSize(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return data instanceof Blob ? data.size : 0;
}
