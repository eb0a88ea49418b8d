/**
 * One WebSocket client's life: token check, admission, the first messages, token expiry,
 * its message session, and every way it ends. Only this module and the handler touch
 * `Deno.upgradeWebSocket` sockets.
 * @module
 */
import type { Claims, Verifier } from "./auth.ts";
import type { LatestReading } from "./bridge.ts";
import type { LimitsConfig } from "./config.ts";
import { AuthError } from "./errors.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { CloseCode, CloseReason, envelopeOf, parseSensorIds } from "./protocol.ts";
import { ClientSession } from "./session.ts";

/** What a connection needs from the server. */
export interface ConnectionDeps {
  hub: Hub;
  verifier: Verifier;
  metrics: Metrics;
  limits: LimitsConfig;
  logger: Logger;
  now: () => number;
  /** Skew allowed on token expiry, ms; an expired token's client is closed this long after `exp`. */
  clockToleranceMs: number;
  /** Whether the MQTT link is up. */
  mqttConnected(): boolean;
  /** Last reading of every sensor. */
  latest(): Iterable<LatestReading>;
  /** Every open socket, verified or not; connections add and remove themselves. */
  sockets: Set<WebSocket>;
}

/** What the client asked for in the upgrade request. */
export interface ConnectionRequest {
  token: string | null;
  /** `?sensors=` as given; `null` or empty = all. */
  sensors: string | null;
  remoteAddr: string;
}

/** Messages a client may send before its token is checked; more are dropped. */
const MAX_EARLY_MESSAGES = 16;
/** Longest delay `setTimeout` takes; longer token lifetimes re-arm the timer. */
const MAX_TIMER_MS = 2_147_000_000;

/** Runs a freshly upgraded socket through its whole life. */
export function runConnection(
  socket: WebSocket,
  request: ConnectionRequest,
  deps: ConnectionDeps,
): void {
  const { hub, metrics, limits, logger } = deps;
  // Verification starts at once; the socket is accepted either way, since browsers cannot read a
  // 401 from a failed handshake, and a refused client is closed with 1008 and the reason.
  const verdict: Promise<Claims | AuthError> = deps.verifier.verify(request.token)
    .catch((e: unknown) => e instanceof AuthError ? e : new AuthError("invalid token", String(e)));
  let session: ClientSession | undefined;
  let early: unknown[] | undefined = [];
  let clientId: string | undefined;
  let expiry: ReturnType<typeof setTimeout> | undefined;

  /** Ends the client now: out of the hub at once, whether or not the peer answers the close. */
  const end = (code: number, reason: string) => {
    clearTimeout(expiry);
    if (clientId !== undefined) hub.remove(clientId);
    session = undefined;
    early = undefined;
    if (socket.readyState < WebSocket.CLOSING) socket.close(code, reason);
  };
  const reject = (code: number, reason: string) => {
    metrics.rejections.inc(reason);
    logger.info("client rejected", { remote: request.remoteAddr, reason });
    end(code, reason);
  };

  deps.sockets.add(socket);
  socket.onmessage = (e) => {
    if (session) session.onMessage(e.data);
    else if (
      early && early.length < MAX_EARLY_MESSAGES &&
      !(typeof e.data === "string" && e.data.length > limits.maxMessageBytes)
    ) early.push(e.data);
  };
  socket.onclose = () => {
    deps.sockets.delete(socket);
    clearTimeout(expiry);
    if (clientId !== undefined && hub.remove(clientId)) {
      logger.info("client disconnected", { client: clientId });
    }
    session = undefined;
    early = undefined;
  };
  socket.onerror = () => {}; // the close event that follows does the cleanup
  socket.onopen = async () => {
    const claims = await verdict;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (claims instanceof AuthError) return reject(CloseCode.POLICY_VIOLATION, claims.code);
    const wanted = request.sensors === null ? undefined : parseSensorIds(request.sensors);
    if (wanted?.bad !== undefined) {
      return reject(CloseCode.POLICY_VIOLATION, CloseReason.INVALID_SENSORS);
    }
    if (hub.size >= limits.maxClients) {
      return reject(CloseCode.TRY_AGAIN_LATER, CloseReason.SERVER_FULL);
    }

    const id = newClientId(hub);
    clientId = id;
    const client = hub.add(
      {
        id,
        subject: claims.sub,
        remoteAddr: request.remoteAddr,
        connectedAt: deps.now(),
        allowed: claims.sensors,
      },
      socket,
      wanted && wanted.ids.length > 0 ? wanted.ids : null,
    );
    metrics.connections++;
    logger.info("client connected", { client: id, sub: claims.sub, remote: request.remoteAddr });

    const at = new Date(deps.now());
    const status = { status: "connected" as const, client_id: id, active_clients: hub.size };
    hub.sendTo(id, JSON.stringify(envelopeOf("connection_status", status, at)));
    const mqtt = deps.mqttConnected() ? "connected" as const : "disconnected" as const;
    hub.sendTo(id, JSON.stringify(envelopeOf("bridge_status", { mqtt }, at)));
    const denied = claims.sensors && wanted?.ids.filter((s) => !claims.sensors!.has(s));
    if (denied && denied.length > 0) {
      // Otherwise a client asking only for sensors its token excludes would wait in silence.
      const message = `not permitted by your token: ${denied.join(", ")}; it may see ` +
        ([...claims.sensors!].join(", ") || "no sensors");
      hub.sendTo(id, JSON.stringify(envelopeOf("error", { code: "invalid_message", message }, at)));
    }
    for (const reading of deps.latest()) {
      if (hub.canSee(client, reading.sensorId)) hub.sendTo(id, reading.text);
    }

    if (claims.expiresAt !== undefined) {
      const closeAt = claims.expiresAt + deps.clockToleranceMs;
      const arm = () => {
        const ms = closeAt - deps.now();
        expiry = setTimeout(() => {
          if (closeAt > deps.now()) return arm();
          metrics.disconnects.inc(CloseReason.TOKEN_EXPIRED);
          end(CloseCode.POLICY_VIOLATION, CloseReason.TOKEN_EXPIRED);
        }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
      };
      arm();
    }

    session = new ClientSession(id, {
      hub,
      metrics,
      limits,
      now: deps.now,
      close: (code, reason) => {
        metrics.disconnects.inc(reason);
        end(code, reason);
      },
    });
    const queued = early ?? [];
    early = undefined;
    for (const data of queued) session?.onMessage(data);
  };
}

function newClientId(hub: Hub): string {
  while (true) {
    const id = crypto.randomUUID().slice(0, 8);
    if (!hub.get(id)) return id;
  }
}
