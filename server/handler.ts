/**
 * HTTP routes: the WebSocket endpoint, the operations endpoints and the dashboard. A function from Request to
 * Response; each WebSocket client's life is `connection.ts`'s.
 * @module
 */
import { type ConnectionDeps, runConnection } from "./connection.ts";
import { WS_PATH } from "../protocol/mod.ts";
import { dashboardResponse } from "./dashboard.ts";

/** What the handler needs from the rest of the server. */
export interface HandlerDeps extends ConnectionDeps {
  /** True once shutdown began: no new clients, and not ready. */
  stopping(): boolean;
}

/** Builds the request handler. */
export function createHandler(
  deps: HandlerDeps,
): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response {
  return (req, info) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case WS_PATH:
        return upgrade(req, url, info.remoteAddr, deps);
      case "/healthz":
        return Response.json({ status: "ok" });
      case "/readyz":
        if (deps.stopping()) {
          return Response.json({ status: "not ready", reason: "shutting down" }, { status: 503 });
        }
        return deps.mqttConnected()
          ? Response.json({ status: "ready", mqtt: "connected" })
          : Response.json(
            { status: "not ready", mqtt: "disconnected", reason: "MQTT broker link is down" },
            { status: 503 },
          );
      case "/metrics": {
        return new Response(deps.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      default:
        return dashboardResponse(req, url) ??
          new Response(`Not found. The sensor stream is at ${WS_PATH}.\n`, { status: 404 });
    }
  };
}

function upgrade(req: Request, url: URL, remote: Deno.NetAddr, deps: HandlerDeps): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(
      `Upgrade required: ${WS_PATH} is a WebSocket endpoint. Connect with a WebSocket client, ` +
        `e.g. new WebSocket("ws://HOST:PORT${WS_PATH}?token=JWT").\n`,
      { status: 426, headers: { upgrade: "websocket", connection: "Upgrade" } },
    );
  }
  if (deps.stopping()) {
    return new Response("Server shutting down; reconnect later.\n", { status: 503 });
  }
  if (deps.sockets.size >= deps.limits.maxClients + deps.limits.maxPendingSockets) {
    deps.metrics.rejections.inc("too many sockets");
    return new Response("Too many connections; try again later.\n", { status: 503 });
  }
  // Read before the upgrade: once upgraded, the request's headers are gone.
  const token = tokenOf(req, url);
  let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
  try {
    upgraded = Deno.upgradeWebSocket(req, {
      idleTimeout: Math.max(1, Math.round(deps.limits.idleTimeoutMs / 1000)),
    });
  } catch (error) {
    return new Response(`Bad WebSocket handshake: ${(error as Error).message}\n`, { status: 400 });
  }
  runConnection(upgraded.socket, {
    token,
    sensors: url.searchParams.get("sensors"),
    remoteAddr: `${remote.hostname}:${remote.port}`,
  }, deps);
  return upgraded.response;
}

/**
 * The token from `Authorization: Bearer` (non-browser clients: it stays out of access logs) or
 * else `?token=` (browsers cannot set headers on a WebSocket).
 */
function tokenOf(req: Request, url: URL): string | null {
  // Only a Bearer header counts: a browser behind a Basic-auth proxy sends Authorization: Basic,
  // which must not hide its ?token=.
  const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  return bearer ?? url.searchParams.get("token");
}
