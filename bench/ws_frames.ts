/**
 * The overload bench's wire conventions, both ends: the readings the publisher sends (sensor
 * ids, the final mark, the timestamp) and, on the clients' side, server-to-client WebSocket
 * frames and `sensor_reading` facts read straight from bytes, so the clients spend little per
 * message (no UTF-8 decode, no `MessageEvent`, no `JSON.parse`) and do not become the
 * bottleneck that hides the server's behaviour. Pure: no I/O.
 * @module
 */

/** Text frame opcode. */
export const OP_TEXT = 0x1;
/** Close frame opcode. */
export const OP_CLOSE = 0x8;
/** Ping frame opcode. */
export const OP_PING = 0x9;

/** The moisture value only the last reading of each sensor carries (others are 40..49). */
export const FINAL_MOISTURE = 77.7;

/** The bench's sensor ids: `S0`, `S1`, ... (the client reads the index from the digits). */
export function sensorId(index: number): string {
  return `S${index}`;
}

/** Topic and payload of reading `k` of `total`: sensor `k % sensors`; the last per sensor is final. */
export function readingAt(
  k: number,
  options: { total: number; sensors: number; at: Date },
): { topic: string; payload: string } {
  const final = k >= options.total - options.sensors;
  const payload = JSON.stringify({
    moisture: final ? FINAL_MOISTURE : 40 + (k % 10),
    temperature: 21.5,
    humidity: 60,
    light: 750,
    timestamp: options.at.toISOString(),
  });
  return { topic: `sensors/${sensorId(k % options.sensors)}/data`, payload };
}

/** Receives the frames {@link scanFrames} finds; `data[start, end)` is the payload. */
export interface FrameSink {
  frame(opcode: number, data: Uint8Array, start: number, end: number): void;
}

/**
 * Hands every complete frame in `data` from `offset` to `sink`; returns the offset of the first
 * byte not consumed (the start of an incomplete frame). Throws `RangeError` on a masked frame,
 * which a server must never send.
 */
export function scanFrames(data: Uint8Array, offset: number, sink: FrameSink): number {
  let off = offset;
  while (off + 2 <= data.length) {
    const b1 = data[off + 1]!;
    if (b1 & 0x80) throw new RangeError(`masked frame from the server at byte ${off}`);
    let len = b1 & 0x7f;
    let head = 2;
    if (len === 126) {
      if (off + 4 > data.length) break;
      len = (data[off + 2]! << 8) | data[off + 3]!;
      head = 4;
    } else if (len === 127) {
      if (off + 10 > data.length) break;
      len = data[off + 6]! * 2 ** 24 + ((data[off + 7]! << 16) | (data[off + 8]! << 8) |
        data[off + 9]!);
      head = 10;
    }
    const start = off + head;
    const end = start + len;
    if (end > data.length) break;
    sink.frame(data[off]! & 0x0f, data, start, end);
    off = end;
  }
  return off;
}

const encoder = new TextEncoder();
const TYPE_KEY = encoder.encode('"type":"sensor_reading"');
const SENSOR_KEY = encoder.encode('"sensor_id":"S');
const MOISTURE_KEY = encoder.encode('"moisture":');
const TIME_KEY = encoder.encode('"timestamp":"');
const FINAL_TEXT = encoder.encode(String(FINAL_MOISTURE));
/** Where the keys sit in the server's usual serialization (checked first, then searched). */
const TYPE_AT = 1;
const SENSOR_AT = 33;

/** Facts of one reading; reused between messages so scanning allocates nothing. */
export interface ReadingFacts {
  sensor: number;
  final: boolean;
  /** The reading's `timestamp`, ms since the epoch. */
  sentAt: number;
}

/** A reusable {@link ReadingFacts}. */
export function newFacts(): ReadingFacts {
  return { sensor: -1, final: false, sentAt: NaN };
}

/**
 * Reads sensor index, whether it is a sensor's final reading, and its timestamp from the
 * `sensor_reading` text in `data[start, end)` into `out`; false for any other message.
 */
export function scanReading(
  data: Uint8Array,
  start: number,
  end: number,
  out: ReadingFacts,
): boolean {
  if (indexOfBytes(data, TYPE_KEY, start, end, start + TYPE_AT) < 0) return false;
  const key = indexOfBytes(data, SENSOR_KEY, start, end, start + SENSOR_AT);
  if (key < 0) return false;
  let at = key + SENSOR_KEY.length;
  let sensor = 0;
  for (let c = data[at]!; at < end && c >= 48 && c <= 57; c = data[++at]!) {
    sensor = sensor * 10 + c - 48;
  }
  const moisture = indexOfBytes(data, MOISTURE_KEY, start, end, at + 2);
  const time = indexOfBytes(data, TIME_KEY, start, end, end - 2 - 24 - TIME_KEY.length);
  if (moisture < 0 || time < 0) return false;
  out.sensor = sensor;
  out.final = isFinal(data, moisture + MOISTURE_KEY.length);
  out.sentAt = isoMs(data, time + TIME_KEY.length);
  return true;
}

function isFinal(data: Uint8Array, at: number): boolean {
  for (let k = 0; k < FINAL_TEXT.length; k++) if (data[at + k] !== FINAL_TEXT[k]) return false;
  const next = data[at + FINAL_TEXT.length];
  return next === 44 /* , */ || next === 125 /* } */;
}

/** Index of `needle` in `data[from, to)`, trying `hint` first; -1 when absent. */
export function indexOfBytes(
  data: Uint8Array,
  needle: Uint8Array,
  from: number,
  to: number,
  hint = from,
): number {
  if (hint >= from && matchesAt(data, needle, hint, to)) return hint;
  for (let i = from; i + needle.length <= to; i++) if (matchesAt(data, needle, i, to)) return i;
  return -1;
}

function matchesAt(data: Uint8Array, needle: Uint8Array, at: number, to: number): boolean {
  if (at + needle.length > to) return false;
  for (let k = 0; k < needle.length; k++) if (data[at + k] !== needle[k]) return false;
  return true;
}

let cachedMinuteKey = -1;
let cachedMinuteMs = 0;

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` at `data[at]` as ms since the epoch (the digits are trusted). */
export function isoMs(data: Uint8Array, at: number): number {
  const d = (i: number, n: number) => {
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 10 + data[at + i + k]! - 48;
    return v;
  };
  const minuteKey = d(0, 4) * 1e8 + d(5, 2) * 1e6 + d(8, 2) * 1e4 + d(11, 2) * 100 + d(14, 2);
  if (minuteKey !== cachedMinuteKey) {
    cachedMinuteKey = minuteKey;
    cachedMinuteMs = Date.UTC(d(0, 4), d(5, 2) - 1, d(8, 2), d(11, 2), d(14, 2));
  }
  return cachedMinuteMs + d(17, 2) * 1000 + d(20, 3);
}

/** The HTTP/1.1 upgrade request for `path` (with its query) on `host`. */
export function upgradeRequest(host: string, path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
}

/** A client's pong for a ping's payload (masked with a zero key, as RFC 6455 allows). */
export function pongFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x8a;
  frame[1] = 0x80 | payload.length; // control frames carry at most 125 bytes
  frame.set(payload, 6);
  return frame;
}

/** Offset just past the `\r\n\r\n` ending the HTTP response head, or -1. */
export function headEnd(data: Uint8Array): number {
  for (let i = 3; i < data.length; i++) {
    if (data[i] === 10 && data[i - 1] === 13 && data[i - 2] === 10 && data[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}
