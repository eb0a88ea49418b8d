/**
 * Turning one MQTT message into a `sensor_reading`, or a reason it was dropped. Pure: no I/O,
 * the receive time is passed in.
 * @module
 */
import { SensorPayloadSchema, type SensorReadingMessage } from "../protocol/mod.ts";

/** Why an MQTT message can be dropped; also the `reason` label of the invalid-message metric. */
export const INVALID_REASONS = [
  "bad_topic",
  "too_large",
  "bad_json",
  "not_object",
  "schema",
  "sensor_id_mismatch",
  "too_many_sensors",
  "bad_command",
  "bad_command_ack",
] as const;
/** One of {@link INVALID_REASONS}. */
export type InvalidReason = typeof INVALID_REASONS[number];

/** Result of {@link parseReading}. */
export type ParsedReading =
  | { ok: true; sensorId: string; message: SensorReadingMessage }
  | { ok: false; reason: InvalidReason; detail: string };

/** Largest MQTT payload considered, bytes; sensor readings are ~150 bytes. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Validates an MQTT message from `topic` against the protocol and builds the reading to
 * forward. `sensorIdOf` is the compiled topic filter (`topicMatcher`); `receivedAt` (ms) is
 * the timestamp used when the payload has no valid one.
 */
export function parseReading(
  topic: string,
  payload: Uint8Array,
  options: { sensorIdOf: (topic: string) => string | undefined; receivedAt: number },
): ParsedReading {
  const sensorId = options.sensorIdOf(topic);
  if (sensorId === undefined) {
    return { ok: false, reason: "bad_topic", detail: "sensor id must match [A-Za-z0-9_-]{1,64}" };
  }
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: "too_large", detail: `${payload.byteLength} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch (error) {
    return { ok: false, reason: "bad_json", detail: (error as Error).message };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, reason: "not_object", detail: "payload must be a JSON object" };
  }
  const parsed = SensorPayloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const detail = issue ? `${issue.path.join(".") || "payload"}: ${issue.message}` : "invalid";
    return { ok: false, reason: "schema", detail };
  }
  const p = parsed.data;
  if (p.sensor_id !== undefined && p.sensor_id !== sensorId) {
    return {
      ok: false,
      reason: "sensor_id_mismatch",
      detail: `payload sensor_id ${p.sensor_id} differs from topic's ${sensorId}`,
    };
  }
  return {
    ok: true,
    sensorId,
    message: {
      type: "sensor_reading",
      data: {
        sensor_id: sensorId,
        moisture: p.moisture,
        temperature: p.temperature,
        humidity: p.humidity,
        light: p.light,
      },
      timestamp: readingTime(p.timestamp, options.receivedAt),
    },
  };
}

/** ISO8601 with a date and time: what a payload's `timestamp` must look like to be used. */
const ISO8601 =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * The payload's own time as UTC ISO8601 with ms when it is a real ISO8601 date and time (no zone
 * means UTC), else the receive time. Non-strings and impossible dates (Feb 30) fall back too.
 */
export function readingTime(timestamp: unknown, receivedAt: number): string {
  const m = typeof timestamp === "string" ? ISO8601.exec(timestamp) : null;
  if (m) {
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const real = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 &&
      minute < 60 && second < 60;
    // No zone designator: read as UTC, as the sensors' firmware and the old service do.
    const text = m[7] === undefined ? `${m[0].replace(" ", "T")}Z` : m[0];
    const t = real ? Date.parse(text) : NaN;
    if (Number.isFinite(t)) return new Date(t).toISOString();
  }
  return new Date(receivedAt).toISOString();
}
