/**
 * One WebSocket client's life: handshake, token check, admission, the first messages, token
 * expiry, its message session, and every way it ends. Whatever happens, the socket is released
 * (out of the registry and the hub) within a bounded time: Deno sends no event for a handshake
 * whose peer reset before the 101 was written, nor for a socket whose peer never answers our
 * close frame (denoland/deno#27924), so deadlines on the injected clock stand in for them.
 * @module
 */
import type { Claims } from "./auth.ts";
import { decideAdmission } from "./admission.ts";
import { AuthError } from "./errors.ts";
import { type CloseEntry, CLOSES } from "../protocol/mod.ts";
import { ClientSession } from "./session.ts";
import { PendingClose } from "./close_frame.ts";
import { EarlyMessages, frameSize } from "./early_messages.ts";
import { welcome } from "./welcome.ts";
import { logAbandoned, logRefusal } from "./connection_log.ts";
import { TokenLife, type TokenOwner } from "./token_refresh.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { ConnectionDeps, ConnectionRequest } from "./connection_deps.ts";

export type { ConnectionDeps, ConnectionRequest } from "./connection_deps.ts";

/** Longest a handshake may take before the socket is released, ms (capped by the idle timeout). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Longest we wait for the peer to answer our close frame, ms (capped by the idle timeout). */
const CLOSE_GRACE_MS = 5_000;

/** The reason Deno closes a socket with when its peer missed the ping deadline. */
const DENO_IDLE_REASON = "No response from ping frame.";
/** Our close frame waits for the peer to pause at most this long (and half the grace), ms. */
const CLOSE_QUIET_MAX_MS = 2_000;

/** The socket events a connection listens to. */
const SOCKET_EVENTS = ["open", "message", "close", "error"] as const;

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

/**
 * One socket from upgrade to release. With 10,000 alive it holds no closure or timer of its own:
 * it is the socket's listener, expiries share one timer, handshake-only state is dropped.
 */
export class Connection implements TokenOwner {
  readonly #socket: WebSocket;
  readonly #remoteAddr: string;
  readonly #deps: ConnectionDeps;
  #request: ConnectionRequest | undefined;
  #stage: Stage = "handshake";
  /** Handshake deadline, then close grace: never both. */
  #deadline: unknown;
  #verdict: Promise<Claims | AuthError> | undefined;
  #clientId: string | undefined;
  #session: ClientSession | undefined;
  /** The admitted client's token: expiry, notice, refreshes. */
  #token: TokenLife | undefined;
  /** Messages that came before the token was checked; allocated when the first one comes. */
  #early: EarlyMessages | undefined;
  /** What we closed with, when the close was ours. */
  #closedWith: { code: number; reason: string } | undefined;
  /** Our close frame, waiting for the peer to pause (see close_frame.ts). */
  #pendingClose: PendingClose | undefined;

  /** A connection for `socket`; nothing happens before {@link Connection.start}. */
  constructor(socket: WebSocket, request: ConnectionRequest, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#request = request;
    this.#remoteAddr = request.remoteAddr;
    this.#deps = deps;
  }

  /** Registers the socket, starts the token check and arms the handshake deadline. */
  start(): void {
    const deps = this.#deps;
    const socket = this.#socket;
    deps.sockets.add(this);
    this.#verdict = deps.verifier.verify(this.#request!.token)
      .catch((e: unknown) =>
        e instanceof AuthError ? e : new AuthError("invalid token", String(e))
      );
    this.#deadline = deps.clock.setTimeout(
      () => this.#abandon("handshake"),
      Math.min(HANDSHAKE_TIMEOUT_MS, deps.limits.idleTimeoutMs),
    );
    for (const type of SOCKET_EVENTS) socket.addEventListener(type, this);
  }

  /** The socket's events (this connection is their listener). */
  handleEvent(event: Event): void {
    switch (event.type) {
      case "message":
        return this.#message((event as MessageEvent).data);
      case "open":
        return void this.#opened();
      case "close": {
        const { code, reason } = event as CloseEvent;
        return this.#closed(code, reason);
      }
      case "error":
        // A failed upgrade sends only this event; an open socket's error is followed by its close.
        if (this.#socket.readyState === WebSocket.CONNECTING) {
          this.release(1006, "handshake failed");
        }
    }
  }

  /** An admitted client that is not closing. */
  get connected(): boolean {
    return this.#stage === "connected";
  }

  /** A `refresh` from the client (see token_refresh.ts). */
  refresh(token: string): void {
    this.#token?.refresh(token);
  }

  /** What its token lets it command (see session.ts). */
  commandClaim(): ReadonlySet<string> | null {
    return this.#token?.commands ?? null;
  }

  /** Its refresh was refused: the session answers with an `invalid_token` error. */
  refused(reason: string): void {
    this.#session?.refused(reason);
  }

  /**
   * Closes with `code` and `reason`; released when the peer answers or the grace runs out.
   * The close frame waits for the peer to pause (see close_frame.ts) unless `now`.
   */
  close(
    { code, reason }: Pick<CloseEntry, "code" | "reason">,
    options: { now?: boolean } = {},
  ): void {
    if (this.#stage === "closing" || this.#stage === "released") return;
    this.#stage = "closing";
    this.#closedWith = { code, reason };
    this.#leaveHub();
    this.#deps.clock.clearTimeout(this.#deadline);
    const grace = Math.min(CLOSE_GRACE_MS, this.#deps.limits.idleTimeoutMs);
    this.#deadline = this.#deps.clock.setTimeout(() => this.#abandon("close"), grace);
    // `now` (shutdown) skips the wait for the peer to pause: the server is going anyway.
    const notAfter = options.now ? 0 : Date.now() + Math.min(CLOSE_QUIET_MAX_MS, grace / 2);
    this.#pendingClose = new PendingClose(
      this.#socket,
      { code, reason },
      notAfter,
      () => this.release(1006, "close failed"),
    );
  }

  /** Forgets the socket everywhere, once; logs an admitted client's disconnect. */
  release(code: number, reason: string): void {
    if (this.#stage === "released") return;
    this.#stage = "released";
    const deps = this.#deps;
    deps.clock.clearTimeout(this.#deadline);
    this.#pendingClose?.cancel();
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
    this.#token?.cancel();
    if (this.#clientId !== undefined) {
      this.#deps.hub.remove(this.#clientId);
      this.#deps.history.cancel(this.#clientId);
    }
    this.#session = undefined;
    this.#early = undefined;
    this.#request = undefined;
    this.#verdict = undefined;
  }

  /**
   * Deno gave no event in time: the handshake died, or the peer ignores our close frame. Either
   * way the socket stops counting; one that ignores our close lingers (visible in /metrics)
   * until its close event, since Deno keeps it while the peer holds the connection.
   */
  #abandon(stage: "handshake" | "close"): void {
    logAbandoned(this.#deps, this.#remoteAddr, stage);
    this.release(1006, stage === "handshake" ? "handshake not completed" : "close not answered");
    if (stage === "close") this.#deps.sockets.linger(this);
  }

  #message(data: unknown): void {
    if (this.#session) return this.#session.onMessage(data);
    if (this.#pendingClose) return this.#pendingClose.peerSpoke();
    // Before the token is checked a socket holds only a few text frames within the limit.
    if (this.#stage !== "handshake" && this.#stage !== "verifying") return;
    if (frameSize(data) > this.#deps.limits.maxMessageBytes) {
      // Deno has read the frame whole already; a peer that does this before it is even known
      // gets no second chance.
      this.#deps.metrics.rejections.inc(CLOSES.MESSAGE_TOO_BIG.reason);
      return this.close(CLOSES.MESSAGE_TOO_BIG);
    }
    (this.#early ??= new EarlyMessages(this.#deps.limits.maxMessageBytes)).offer(data);
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
    this.#deadline = undefined;
    // Once open, a socket's error event is followed by its close event: one listener less to keep.
    this.#socket.removeEventListener("error", this);
    this.#stage = "verifying";
    const verdict = await this.#verdict!;
    if (this.#stage !== "verifying") return;
    const sensorsParam = this.#request!.sensors;
    // What only the handshake needed (the token among it) is not kept for the connection's life.
    this.#request = undefined;
    this.#verdict = undefined;
    const decision = decideAdmission({
      verdict,
      sensorsParam,
      clients: deps.hub.size,
      maxClients: deps.limits.maxClients,
    });
    if (!decision.admitted) return this.#refuse(decision.close, decision.detail);
    this.#admit(decision.claims, decision.subscriptions, decision.denied);
  }

  #refuse(close: CloseEntry, detail: string): void {
    logRefusal(this.#deps, this.#remoteAddr, { close, detail });
    this.close(close);
  }

  #admit(claims: Claims, subscriptions: string[] | null, denied: string[]): void {
    const { hub, metrics, logger, clock } = this.#deps;
    this.#stage = "connected";
    const client = welcome(hub, {
      claims,
      remoteAddr: this.#remoteAddr,
      transport: new SocketTransport(this.#socket, this),
      subscriptions,
      denied,
      now: clock.now(),
      mqttConnected: this.#deps.mqttConnected(),
      instance: this.#deps.instance(),
      latest: this.#deps.latest(),
      statuses: this.#deps.staleStatuses(),
      commands: this.#deps.commands.events(),
    });
    this.#clientId = client.id;
    metrics.connections.inc();
    logger.info("client connected", {
      client: client.id,
      sub: claims.sub,
      remote: this.#remoteAddr,
    });
    // A send that failed on the way closed it already: nothing more to arm.
    if (this.#stage !== "connected") return;
    this.#token = new TokenLife(this.#deps, client.id, this, claims);
    this.#session = new ClientSession(client.id, this.#deps, this);
    const early = this.#early?.take() ?? [];
    this.#early = undefined;
    for (const data of early) this.#session?.onMessage(data);
  }
}
