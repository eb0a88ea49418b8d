/**
 * sensorstream as a library: start the WebSocket service with its MQTT bridge, in-process.
 *
 * ```ts
 * import { startServer } from "./mod.ts";
 *
 * await using server = await startServer({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   mqtt: { embeddedPort: 0 }, // the embedded broker on a free port too
 *   auth: { secret: "a-development-secret-of-32-bytes!" },
 * });
 * console.log(`stream at ${server.wsUrl}?token=...; publish to ${server.mqttUrl}`);
 * // `await using` shuts it down at the end of the scope; a service awaits server.finished.
 * ```
 *
 * @module
 */
export { startServer } from "./server.ts";
export type { ServerDeps, ServerHandle, ShutdownOptions } from "./server.ts";
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
