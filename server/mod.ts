/**
 * sensorstream as a library: start the WebSocket service with its MQTT bridge, in-process.
 *
 * ```ts
 * import { startServer } from "./server/mod.ts";
 *
 * await using server = await startServer({ port: 0, auth: { secret: Deno.env.get("JWT_SECRET") } });
 * console.log(`stream at ${server.wsUrl}?token=...; publish to ${server.mqttUrl}`);
 * await server.finished;
 * ```
 *
 * @module
 */
export { startServer } from "./server.ts";
export type { ServerDeps, ServerHandle } from "./server.ts";
export { DEFAULT_CONFIG, validateConfig, withDefaults } from "./config.ts";
export type {
  AuthConfig,
  LimitsConfig,
  MqttConfig,
  ServerConfig,
  ServerOptions,
} from "./config.ts";
export { AuthError, StartupError, UsageError } from "./errors.ts";
export { createLogger, silentLogger } from "./log.ts";
export type { LogFormat, Logger, LogLevel } from "./log.ts";
export { mintToken } from "./token.ts";
export * from "./protocol.ts";
