/**
 * The sensorstream wire protocol: MQTT topics and payloads, WebSocket messages in both
 * directions, close codes and error codes. `server/`, `sim/` and the `tail` client all
 * speak through this module, and `deno task schema` exports it as JSON Schema.
 *
 * Compatible with the FastAPI service it replaces: same endpoint, `?token=` query, close
 * code 1008 on auth failure and the same `sensor_reading` / `connection_status` shapes.
 *
 * @module
 */
import { z } from "zod";

/** Path of the WebSocket endpoint. */
export const WS_PATH = "/ws/sensors";

/** Sensor ids: what may stand in the `+` level of the topic. */
export const SENSOR_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Splits `V1, V3` into sensor ids (trimmed, de-duplicated, empty parts dropped). Returns the
 * first invalid id as `bad` when there is one.
 */
export function parseSensorIds(text: string): { ids: string[]; bad: string | undefined } {
  const ids = [...new Set(text.split(",").map((s) => s.trim()).filter((s) => s !== ""))];
  return { ids, bad: ids.find((id) => !SENSOR_ID_PATTERN.test(id)) };
}

/** Default MQTT topic filter; the `+` level is the sensor id. */
export const DEFAULT_TOPIC = "sensors/+/data";

/** The five sensor stations of the original deployment. */
export const DEFAULT_SENSORS: readonly string[] = ["V1", "V2", "V3", "V4", "V5"];

/** Largest client message the server reads, in bytes. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** Topic a sensor publishes its readings to, for a filter such as `sensors/+/data`. */
export function sensorTopic(sensorId: string, filter: string = DEFAULT_TOPIC): string {
  return filter.replace("+", sensorId);
}

/**
 * Checks a topic filter has exactly one `+` level (the sensor id) and no `#`.
 * Returns a description of the problem, or `undefined` when the filter is usable.
 */
export function topicFilterProblem(filter: string): string | undefined {
  const levels = filter.split("/");
  const plus = levels.filter((l) => l === "+").length;
  if (filter.includes("#")) return "must not contain '#'";
  if (plus !== 1) return "must contain exactly one '+' level, which carries the sensor id";
  if (levels.some((l) => l !== "+" && l.includes("+"))) return "'+' must be a whole level";
  if (levels.some((l) => l === "")) return "must not have empty levels";
  return undefined;
}

/**
 * Compiles a topic filter (one `+` level) into a function returning the sensor id of a matching
 * topic, or `undefined` when the topic does not match or the id is not a valid sensor id.
 */
export function topicMatcher(filter: string): (topic: string) => string | undefined {
  const levels = filter.split("/");
  const at = levels.indexOf("+");
  const prefix = levels.slice(0, at).join("/") + (at > 0 ? "/" : "");
  const suffix = (at < levels.length - 1 ? "/" : "") + levels.slice(at + 1).join("/");
  return (topic) => {
    if (
      topic.length <= prefix.length + suffix.length || !topic.startsWith(prefix) ||
      !topic.endsWith(suffix)
    ) return undefined;
    const id = topic.slice(prefix.length, topic.length - suffix.length);
    return SENSOR_ID_PATTERN.test(id) ? id : undefined;
  };
}

/** The sensor id of `topic` under `filter` (see {@link topicMatcher}). */
export function sensorIdFromTopic(
  topic: string,
  filter: string = DEFAULT_TOPIC,
): string | undefined {
  return topicMatcher(filter)(topic);
}

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

/** WebSocket close codes the server uses, and what each means. One table, mirrored in README. */
export const CloseCode = {
  /** Normal closure (client asked). */
  NORMAL: 1000,
  /** Server shutting down; reconnect later. */
  GOING_AWAY: 1001,
  /** Policy violation: missing/invalid/expired token, or a client that keeps sending garbage. */
  POLICY_VIOLATION: 1008,
  /** A message over the size limit before the client was admitted. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server error. */
  INTERNAL_ERROR: 1011,
  /** Try again later: the client could not keep up (its buffer did not drain in time). */
  TRY_AGAIN_LATER: 1013,
} as const;

/** Close reasons sent with 1008 and 1013. */
export const CloseReason = {
  MISSING_TOKEN: "missing token",
  INVALID_TOKEN: "invalid token",
  TOKEN_EXPIRED: "token expired",
  AUTH_UNAVAILABLE: "auth unavailable",
  INVALID_SENSORS: "invalid sensors parameter",
  TOO_MANY_ERRORS: "too many invalid messages",
  SLOW_CONSUMER: "client too slow",
  SERVER_FULL: "server full",
  HANDSHAKE_TIMEOUT: "handshake too slow",
  SEND_FAILED: "send failed",
  MESSAGE_TOO_BIG: "message too big",
  IDLE_TIMEOUT: "idle timeout",
  SHUTDOWN: "server shutting down",
} as const;

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

/** JSON Schema (draft 2020-12) of every message, for `deno task schema` and other languages. */
export function protocolJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sensorstream protocol",
    $defs: {
      ServerMessage: z.toJSONSchema(ServerMessageSchema),
      ClientMessage: z.toJSONSchema(ClientMessageSchema),
      SensorPayload: z.toJSONSchema(SensorPayloadSchema),
    },
  };
}
