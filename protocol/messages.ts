/**
 * The WebSocket and MQTT messages as zod schemas: what the server sends, what clients may send,
 * and what sensors publish. Every side parses and builds messages through these.
 * @module
 */
import { z } from "zod";
import { SENSOR_ID_PATTERN } from "./topics.ts";

/** Path of the WebSocket endpoint. */
export const WS_PATH = "/ws/sensors";

/** Largest client message the server reads, in bytes. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

const finite = z.number().finite();
const sensorId = z.string().regex(SENSOR_ID_PATTERN, "sensor id must match [A-Za-z0-9_-]{1,64}");
/** UTC ISO8601 with milliseconds, as the server always emits it. */
const isoTimestamp = z.iso.datetime({ offset: false, precision: 3 });

/** The measured values of one reading. Ranges are physical limits of the stations. */
export const SensorValuesSchema = z.object({
  moisture: finite.min(0).max(100).describe("Soil moisture, percent"),
  temperature: finite.min(-50).max(100).describe("Air temperature, °C"),
  humidity: finite.min(0).max(100).describe("Relative humidity, percent"),
  light: finite.min(0).describe("Light, lux"),
});

/** An MQTT payload on `sensors/{id}/data`. Unknown fields are ignored. */
export const SensorPayloadSchema = SensorValuesSchema.extend({
  timestamp: z.unknown().optional().describe(
    "ISO8601 time of the measurement; the receive time is used when absent or not a valid date",
  ),
  sensor_id: sensorId.optional().describe("Must equal the topic's sensor id when present"),
});
/** A parsed MQTT sensor payload. */
export type SensorPayload = z.infer<typeof SensorPayloadSchema>;

/** One reading as the server forwards it. */
export const SensorReadingDataSchema = SensorValuesSchema.extend({ sensor_id: sensorId });
/** The `data` of a `sensor_reading` message. */
export type SensorReadingData = z.infer<typeof SensorReadingDataSchema>;

/** Codes in `error` messages sent to clients. */
export const ErrorCode = {
  BAD_JSON: "bad_json",
  BINARY_NOT_SUPPORTED: "binary_not_supported",
  MESSAGE_TOO_LARGE: "message_too_large",
  UNKNOWN_TYPE: "unknown_type",
  INVALID_MESSAGE: "invalid_message",
} as const;
/** One of {@link ErrorCode}. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

const envelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({ type: z.literal(type), data, timestamp: isoTimestamp });

/** First message on every connection. */
export const ConnectionStatusSchema = envelope(
  "connection_status",
  z.object({
    status: z.literal("connected"),
    client_id: z.string().regex(/^[0-9a-f]{8}$/),
    active_clients: z.number().int().min(1),
  }),
);
/** State of the server's link to the MQTT broker; sent at connect and on every change. */
export const BridgeStatusSchema = envelope(
  "bridge_status",
  z.object({ mqtt: z.enum(["connected", "disconnected"]) }),
);
/** A sensor reading. */
export const SensorReadingSchema = envelope("sensor_reading", SensorReadingDataSchema);
/** Reply to `ping`. */
export const PongSchema = envelope("pong", z.object({}));
/**
 * Reply to `subscribe` / `unsubscribe`: what the client now receives. `sensors: null` means
 * every sensor it may see except those in `excluded`.
 */
export const SubscriptionsSchema = envelope(
  "subscriptions",
  z.object({ sensors: z.array(sensorId).nullable(), excluded: z.array(sensorId) }),
);
/** A client message the server could not accept. */
export const ErrorMessageSchema = envelope(
  "error",
  z.object({
    code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
  }),
);

/** Any message the server sends. */
export const ServerMessageSchema = z.discriminatedUnion("type", [
  ConnectionStatusSchema,
  BridgeStatusSchema,
  SensorReadingSchema,
  PongSchema,
  SubscriptionsSchema,
  ErrorMessageSchema,
]);
/** Any message the server sends. */
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
/** A `sensor_reading` message. */
export type SensorReadingMessage = z.infer<typeof SensorReadingSchema>;

/** Messages a client may send. */
export const ClientMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("subscribe"), sensors: z.array(sensorId).min(1).max(1000) }),
  z.object({ type: z.literal("unsubscribe"), sensors: z.array(sensorId).min(1).max(1000) }),
  z.object({ type: z.literal("ping") }),
]);
/** A message from a client. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** Builds a server message envelope with the given time. */
export function envelopeOf<T extends ServerMessage["type"]>(
  type: T,
  data: Extract<ServerMessage, { type: T }>["data"],
  at: Date,
): Extract<ServerMessage, { type: T }> {
  return { type, data, timestamp: at.toISOString() } as Extract<ServerMessage, { type: T }>;
}
