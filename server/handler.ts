/**
 * HTTP routes: the WebSocket endpoint and the operations endpoints. A function from Request to
 * Response, so routes are tested without starting a listener where possible.
 * @module
 */
import type { Claims, Verifier } from "./auth.ts";
import type { LimitsConfig } from "./config.ts";
import { AuthError } from "./errors.ts";
import type { Hub } from "./hub.ts";
import { type Logger, silentLogger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import {
  CloseCode,
  CloseReason,
  envelopeOf,
  SENSOR_ID_PATTERN,
  type SensorReadingMessage,
  WS_PATH,
} from "./protocol.ts";
import { ClientSession } from "./session.ts";

/** What the handler needs from the rest of the server. */
export interface HandlerDeps {
  hub: Hub;
  verifier: Verifier;
  metrics: Metrics;
  limits: LimitsConfig;
  logger?: Logger;
  now: () => number;
  /** Skew allowed on token expiry, ms; an expired token's client is closed this long after `exp`. */
  clockToleranceMs: number;
  /** Whether the MQTT link is up. */
  mqttConnected(): boolean;
  /** Last reading of every sensor. */
  latest(): Iterable<SensorReadingMessage>;
  /** Every open socket, verified or not; the handler adds and removes them. */
  sockets: Set<WebSocket>;
}

/** Messages a client may send before its token is checked; more are dropped. */
const MAX_EARLY_MESSAGES = 16;

/** Builds the request handler. */
export function createHandler(
  deps: HandlerDeps,
): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response {
  const logger = deps.logger ?? silentLogger;
  return (req, info) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case WS_PATH:
        return upgrade(req, url, info.remoteAddr, deps, logger);
      case "/healthz":
        return Response.json({ status: "ok" });
      case "/readyz":
        return deps.mqttConnected()
          ? Response.json({ status: "ready", mqtt: "connected" })
          : Response.json(
            { status: "not ready", mqtt: "disconnected", reason: "MQTT broker link is down" },
            { status: 503 },
          );
      case "/metrics": {
        let slow = 0;
        for (const c of deps.hub.clients()) if (c.slow) slow++;
        const body = deps.metrics.render({
          clients: deps.hub.size,
          slowClients: slow,
          mqttConnected: deps.mqttConnected(),
        });
        return new Response(body, {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      default:
        return new Response(`Not found. The sensor stream is at ${WS_PATH}.\n`, { status: 404 });
    }
  };
}

function upgrade(
  req: Request,
  url: URL,
  remote: Deno.NetAddr,
  deps: HandlerDeps,
  logger: Logger,
): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(
      `Upgrade required: ${WS_PATH} is a WebSocket endpoint. Connect with a WebSocket client, ` +
        `e.g. new WebSocket("ws://HOST:PORT${WS_PATH}?token=JWT").\n`,
      { status: 426, headers: { upgrade: "websocket", connection: "Upgrade" } },
    );
  }
  const { hub, metrics, limits } = deps;
  // Verification starts now; the socket is accepted either way, since browsers cannot read a
  // 401 from a failed handshake, and a refused client is closed with 1008 and the reason.
  const verdict: Promise<Claims | AuthError> = deps.verifier.verify(url.searchParams.get("token"))
    .catch((e) => e instanceof AuthError ? e : new AuthError("invalid token", String(e)));
  const sensorsParam = url.searchParams.get("sensors");
  const { socket, response } = Deno.upgradeWebSocket(req, {
    idleTimeout: Math.max(1, Math.round(limits.idleTimeoutMs / 1000)),
  });
  const remoteAddr = `${remote.hostname}:${remote.port}`;
  let session: ClientSession | undefined;
  let early: unknown[] | undefined = [];
  let clientId: string | undefined;
  let expiry: ReturnType<typeof setTimeout> | undefined;

  const reject = (code: number, reason: string, counter = metrics.rejections) => {
    counter.inc(reason);
    socket.close(code, reason);
  };

  socket.onmessage = (e) => {
    if (session) session.onMessage(e.data);
    else if (early && early.length < MAX_EARLY_MESSAGES) early.push(e.data);
  };
  deps.sockets.add(socket);
  socket.onclose = () => {
    deps.sockets.delete(socket);
    clearTimeout(expiry);
    if (clientId !== undefined) hub.remove(clientId);
    early = undefined;
  };
  socket.onerror = () => {}; // the close event that follows does the cleanup
  socket.onopen = async () => {
    const claims = await verdict;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (claims instanceof AuthError) {
      logger.info("client rejected", { remote: remoteAddr, reason: claims.code });
      return reject(CloseCode.POLICY_VIOLATION, claims.code);
    }
    let subscriptions: string[] | null = null;
    if (sensorsParam !== null) {
      subscriptions = sensorsParam.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (!subscriptions.every((s) => SENSOR_ID_PATTERN.test(s))) {
        return reject(CloseCode.POLICY_VIOLATION, "invalid sensors parameter");
      }
    }
    if (hub.size >= limits.maxClients) {
      return reject(CloseCode.TRY_AGAIN_LATER, "server full");
    }
    const id = newClientId(hub);
    clientId = id;
    const client = hub.add(
      {
        id,
        subject: claims.sub,
        remoteAddr,
        connectedAt: deps.now(),
        allowed: claims.sensors,
      },
      socket,
      subscriptions,
    );
    metrics.connections++;
    logger.info("client connected", { client: id, sub: claims.sub, remote: remoteAddr });
    const at = new Date(deps.now());
    hub.sendTo(
      id,
      JSON.stringify(
        envelopeOf("connection_status", {
          status: "connected",
          client_id: id,
          active_clients: hub.size,
        }, at),
      ),
    );
    hub.sendTo(
      id,
      JSON.stringify(
        envelopeOf("bridge_status", {
          mqtt: deps.mqttConnected() ? "connected" : "disconnected",
        }, at),
      ),
    );
    for (const reading of deps.latest()) {
      if (hub.canSee(client, reading.data.sensor_id)) hub.sendTo(id, JSON.stringify(reading));
    }
    if (claims.expiresAt !== undefined) {
      const ms = claims.expiresAt + deps.clockToleranceMs - deps.now();
      expiry = setTimeout(() => {
        metrics.disconnects.inc(CloseReason.TOKEN_EXPIRED);
        socket.close(CloseCode.POLICY_VIOLATION, CloseReason.TOKEN_EXPIRED);
      }, Math.max(0, Math.min(ms, 2_147_000_000)));
    }
    session = new ClientSession(id, {
      hub,
      metrics,
      limits,
      now: deps.now,
      close: (code, reason) => socket.close(code, reason),
    });
    for (const data of early ?? []) session.onMessage(data);
    early = undefined;
  };
  return response;
}

function newClientId(hub: Hub): string {
  while (true) {
    const id = crypto.randomUUID().slice(0, 8);
    if (!hub.get(id)) return id;
  }
}
