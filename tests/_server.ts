/** Starting a real server for in-process integration tests. */
import type { ServerOptions } from "../server/config.ts";
import { type ServerDeps, type ServerHandle, startServer } from "../server/server.ts";
import { mintTestToken, TEST_SECRET, WsProbe } from "./_helpers.ts";

/** A server on 127.0.0.1 port 0 with its embedded broker on a free port (unless a URL is given). */
export async function startTestServer(
  options: ServerOptions = {},
  deps: ServerDeps = {},
): Promise<ServerHandle> {
  return await startServer({
    port: 0,
    hostname: "127.0.0.1",
    ...options,
    mqtt: { embeddedPort: 0, reconnectMinMs: 100, reconnectMaxMs: 500, ...options.mqtt },
    auth: { secret: TEST_SECRET, ...options.auth },
    limits: { rateLimitMs: 0, ...options.limits },
  }, deps);
}

/** Opens a WebSocket client with a fresh valid token (or the given query string). */
export async function connectClient(
  server: ServerHandle,
  query: { token?: string | null; sensors?: string; claims?: Record<string, unknown> } = {},
): Promise<WsProbe> {
  const params = new URLSearchParams();
  const token = query.token === undefined ? await mintTestToken(query.claims ?? {}) : query.token;
  if (token !== null) params.set("token", token);
  if (query.sensors !== undefined) params.set("sensors", query.sensors);
  const probe = new WsProbe(`${server.wsUrl}?${params}`);
  await probe.opened;
  return probe;
}

/** A valid MQTT payload for sensor readings. */
export function payload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { moisture: 45.2, temperature: 22.1, humidity: 65.5, light: 800, ...overrides };
}
