/**
 * The sensorstream wire protocol, shared by every side: the server, the simulator, the `tail`
 * client, the dashboard and anyone else's client. MQTT topics and payloads, WebSocket messages in
 * both directions, the close table, and the JSON Schema export (`deno task schema`).
 *
 * Compatible with the FastAPI service it replaces: same endpoint, `?token=` query, close code
 * 1008 on auth failure and the same `sensor_reading` / `connection_status` shapes.
 *
 * ```ts
 * import { envelopeOf, ServerMessageSchema } from "./mod.ts";
 *
 * const text = JSON.stringify(envelopeOf("bridge_status", { mqtt: "connected" }, new Date()));
 * const message = ServerMessageSchema.parse(JSON.parse(text));
 * ```
 *
 * @module
 */
export * from "./topics.ts";
export * from "./messages.ts";
export * from "./close.ts";
export * from "./schema.ts";
