/**
 * sensorstream as a library: start the WebSocket service with its MQTT bridge, in-process.
 *
 * ```ts
 * import { startServer } from "./mod.ts";
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
export { DEFAULT_CONFIG, withDefaults } from "./config.ts";
export { validateConfig } from "./config_check.ts";
export type {
  AuthConfig,
  LimitsConfig,
  MqttConfig,
  ServerConfig,
  ServerOptions,
} from "./config.ts";
export { AuthError } from "./errors.ts";
export { OptionError, StartupError } from "../lib/errors.ts";
export { createLogger, silentLogger } from "../lib/log.ts";
export type { LogFormat, Logger, LogLevel } from "../lib/log.ts";
export { mintToken } from "./token.ts";
export * from "../protocol/mod.ts";
