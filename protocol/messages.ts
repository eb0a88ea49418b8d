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
  /** A `refresh` whose token was refused; the connection goes on until the old token's `exp`. */
  INVALID_TOKEN: "invalid_token",
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
    instance: z.string().max(256).optional().describe(
      "Which serving process this client landed on, e.g. host:8000/1 (host:port/worker)",
    ),
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

/** One stored reading in a `history` reply: the values and the reading's own time. */
export const HistoryReadingSchema = SensorValuesSchema.extend({ timestamp: isoTimestamp });
/** One stored reading in a `history` reply. */
export type HistoryReading = z.infer<typeof HistoryReadingSchema>;

/**
 * Reply to `history`, one per sensor: its readings strictly after `since`, oldest first.
 * `complete` is true only when this server held every reading of the sensor for the whole window.
 */
export const HistorySchema = envelope(
  "history",
  z.object({
    sensor_id: sensorId,
    readings: z.array(HistoryReadingSchema),
    complete: z.boolean(),
  }),
);
/** A sensor went stale (no reading for longer than usual) or live again (a reading came). */
export const SensorStatusSchema = envelope(
  "sensor_status",
  z.object({
    sensor_id: sensorId,
    status: z.enum(["live", "stale"]),
    last_seen: isoTimestamp.describe("When the server last received a reading of the sensor"),
  }),
);
/** The token expires soon: send `refresh` with a new one to stay connected. */
export const TokenExpiringSchema = envelope(
  "token_expiring",
  z.object({ expires_at: isoTimestamp.describe("The token's exp") }),
);
/** Reply to an accepted `refresh`. */
export const TokenRefreshedSchema = envelope(
  "token_refreshed",
  z.object({ expires_at: isoTimestamp.nullable().describe("The new token's exp; null: none") }),
);

/** Actions a `command` may name, and what each one's params must be. */
export const COMMAND_ACTIONS = ["irrigate"] as const;
/** One of {@link COMMAND_ACTIONS}. */
export type CommandAction = typeof COMMAND_ACTIONS[number];
/** Params of `irrigate`. */
export const IrrigateParamsSchema = z.object({
  duration_s: z.number().int().min(1).max(3600).describe("How long the valve stays open, s"),
});
/**
 * A command issued longer ago than this is not run: the server (with its default
 * `--command-timeout`) has told its issuer `timeout` by then, so a valve opening now would be one
 * nobody sees. A broker redelivering after a reconnect is how such a command arrives.
 */
export const COMMAND_MAX_AGE_MS = 10_000;
/** Outcomes a device reports on the ack topic. */
export const COMMAND_ACK_STATUSES = ["accepted", "done", "failed"] as const;
/** Every state of a command the server reports in `command_event`. */
export const COMMAND_EVENT_STATUSES = ["sent", ...COMMAND_ACK_STATUSES, "timeout"] as const;
/** One of {@link COMMAND_EVENT_STATUSES}. */
export type CommandEventStatus = typeof COMMAND_EVENT_STATUSES[number];
/** Every state of a command the issuing client hears about in `command_status`. */
export const COMMAND_STATUSES = ["rejected", ...COMMAND_EVENT_STATUSES] as const;
/** One of {@link COMMAND_STATUSES}. */
export type CommandStatus = typeof COMMAND_STATUSES[number];
const commandId = z.string().min(1).max(64);

/** To the client that sent a `command`: each change of its state (`reason` only for `rejected`). */
export const CommandStatusSchema = envelope(
  "command_status",
  z.object({
    id: commandId,
    sensor_id: sensorId,
    status: z.enum(COMMAND_STATUSES),
    reason: z.string().optional().describe("Why a command was rejected"),
    detail: z.string().optional().describe("The device's detail from its ack"),
  }),
);
/** To every client that may see the sensor: each change of a command's state. */
export const CommandEventSchema = envelope(
  "command_event",
  z.object({
    id: commandId,
    sensor_id: sensorId,
    action: z.enum(COMMAND_ACTIONS),
    status: z.enum(COMMAND_EVENT_STATUSES),
    issued_by: z.string().max(1024).describe("The issuing token's sub"),
  }),
);

/** What the server publishes on a sensor's command topic. */
export const CommandPublishSchema = z.object({
  id: commandId,
  action: z.enum(COMMAND_ACTIONS),
  params: z.record(z.string(), z.unknown()),
  issued_by: z.string().max(1024).describe("The issuing token's sub"),
  issued_at: isoTimestamp,
});
/** A published command. */
export type CommandPublish = z.infer<typeof CommandPublishSchema>;

/** What a device publishes on its ack topic. */
export const CommandAckSchema = z.object({
  id: commandId,
  status: z.enum(COMMAND_ACK_STATUSES),
  detail: z.string().max(1024).optional(),
});
/** A device's ack. */
export type CommandAck = z.infer<typeof CommandAckSchema>;

/** Any message the server sends. */
export const ServerMessageSchema = z.discriminatedUnion("type", [
  ConnectionStatusSchema,
  BridgeStatusSchema,
  SensorReadingSchema,
  PongSchema,
  SubscriptionsSchema,
  ErrorMessageSchema,
  HistorySchema,
  SensorStatusSchema,
  TokenExpiringSchema,
  TokenRefreshedSchema,
  CommandStatusSchema,
  CommandEventSchema,
]);
/** Any message the server sends. */
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
/** A `sensor_reading` message. */
export type SensorReadingMessage = z.infer<typeof SensorReadingSchema>;

/** Longest relative history time, ms (a year: far beyond any history kept). */
const MAX_RELATIVE_MS = 366 * 24 * 3_600_000;
const RELATIVE_UNITS_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A `history` request's time, in ms since the epoch: an ISO8601 date-time with a zone
 * (`2025-12-06T14:00:00Z`, `…+01:00`), or relative to `now` (`-90s`, `-15m`, `-2h`, `-1d`).
 * `undefined` when it is neither.
 */
export function parseHistoryTime(value: string, now: number): number | undefined {
  const relative = /^-(\d{1,10})([smhd])$/.exec(value);
  if (relative) {
    const ms = Number(relative[1]) * RELATIVE_UNITS_MS[relative[2]!]!;
    return ms <= MAX_RELATIVE_MS ? now - ms : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

const historyTime = z.string().max(64).refine(
  (v) => parseHistoryTime(v, 0) !== undefined,
  "a time must be ISO8601 with a zone (2025-12-06T14:00:00Z) or relative (-15m, -2h; s, m, h, d)",
);

/** Most sensors one `history` request names. */
export const MAX_HISTORY_SENSORS = 1_000;

/** `history`: stored readings strictly after `since` (per sensor, or one time for all). */
export const HistoryRequestSchema = z.object({
  type: z.literal("history"),
  sensors: z.array(sensorId).min(1).max(MAX_HISTORY_SENSORS).optional().describe(
    "Default: every sensor the client receives",
  ),
  since: z.union([
    historyTime,
    z.record(sensorId, historyTime).refine(
      (r) => Object.keys(r).length <= MAX_HISTORY_SENSORS,
      `at most ${MAX_HISTORY_SENSORS} sensors`,
    ),
  ]).optional().describe("Default: everything held. Per sensor: only those sensors"),
  limit: z.number().int().min(1).max(1_000_000).optional().describe(
    "Only the most recent N readings per sensor",
  ),
});
/** A `history` request. */
export type HistoryRequest = z.infer<typeof HistoryRequestSchema>;

/** Messages a client may send. */
export const ClientMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("subscribe"), sensors: z.array(sensorId).min(1).max(1000) }),
  z.object({ type: z.literal("unsubscribe"), sensors: z.array(sensorId).min(1).max(1000) }),
  z.object({ type: z.literal("ping") }),
  HistoryRequestSchema,
  z.object({
    type: z.literal("refresh"),
    token: z.string().min(1).max(8 * 1024).describe("A new JWT with the same sub"),
  }),
  z.object({
    type: z.literal("command"),
    id: commandId.describe("Chosen by the client; echoed in command_status"),
    sensor_id: sensorId,
    action: z.string().min(1).max(64).describe("irrigate"),
    params: z.record(z.string(), z.unknown()).describe('irrigate: {"duration_s": 1..3600}'),
  }),
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
