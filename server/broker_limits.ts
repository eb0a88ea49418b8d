/**
 * What the embedded broker accepts and keeps: the largest MQTT packet, and how many retained
 * messages (and bytes) it stores. Pure bookkeeping, no sockets: {@link PacketSizeGuard} reads
 * MQTT framing from raw bytes, {@link RetainedBudget} accounts retained messages.
 * @module
 */

/**
 * Largest MQTT packet the embedded broker accepts, bytes (fixed header included, as MQTT 5's
 * Maximum Packet Size counts it). Sensor readings are ~150 bytes; 64 KiB leaves room for any
 * honest client while keeping a flood of big packets cheap to refuse.
 */
export const MAX_MQTT_PACKET_BYTES = 64 * 1024;
/** Most retained topics the embedded broker stores (one per sensor is the expected use). */
export const MAX_RETAINED_TOPICS = 10_000;
/** Most bytes (topic + payload) of retained messages the embedded broker stores. */
export const MAX_RETAINED_BYTES = 8 * 1024 * 1024;

/** Why {@link PacketSizeGuard.scan} refused a connection's bytes. */
export type FrameProblem =
  | { kind: "too_large"; bytes: number }
  | { kind: "malformed" };

/**
 * Follows the MQTT framing of one connection's byte stream (fixed header byte, variable-length
 * remaining length, body) and reports a packet whose announced size exceeds `maxBytes` as soon
 * as its header arrives, before any of its body has to be buffered. Bodies are skipped, not
 * kept.
 */
export class PacketSizeGuard {
  readonly #maxBytes: number;
  /** Bytes of the current length field read so far; -1 while waiting for a header byte. */
  #lengthBytes = -1;
  #length = 0;
  /** Body bytes of the current packet still to pass. */
  #skip = 0;

  /** A guard for one connection. */
  constructor(maxBytes: number = MAX_MQTT_PACKET_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Feeds the next chunk; returns a problem once the stream must be cut, else undefined. */
  scan(chunk: Uint8Array): FrameProblem | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.#lengthBytes < 0) {
        this.#lengthBytes = 0;
        this.#length = 0;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** this.#lengthBytes++;
      if (byte & 0x80) {
        // The remaining length has at most four bytes [MQTT-2.2.3].
        if (this.#lengthBytes === 4) return { kind: "malformed" };
        continue;
      }
      const total = 1 + this.#lengthBytes + this.#length;
      if (total > this.#maxBytes) return { kind: "too_large", bytes: total };
      this.#skip = this.#length;
      this.#lengthBytes = -1;
    }
    return undefined;
  }
}

/** Limits of a {@link RetainedBudget}. */
export interface RetainedLimits {
  /** Most topics stored. */
  maxTopics: number;
  /** Most bytes (UTF-8 topic + payload) stored. */
  maxBytes: number;
}

const encoder = new TextEncoder();

/**
 * Accounts the retained messages a broker stores, per topic, against {@link RetainedLimits}.
 * The broker asks {@link RetainedBudget.admit} before storing one and stores it only if told so.
 */
export class RetainedBudget {
  readonly #limits: RetainedLimits;
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  /** An empty budget; defaults to {@link MAX_RETAINED_TOPICS} and {@link MAX_RETAINED_BYTES}. */
  constructor(
    limits: RetainedLimits = { maxTopics: MAX_RETAINED_TOPICS, maxBytes: MAX_RETAINED_BYTES },
  ) {
    this.#limits = limits;
  }

  /** Topics accounted now. */
  get topics(): number {
    return this.#sizes.size;
  }

  /** Bytes accounted now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Whether a retained message of `payloadBytes` on `topic` may be stored. An empty payload
   * (which clears the topic) always may. When it may not, the topic's previous value is
   * forgotten too: the caller must clear it, as a stale value is worse than none.
   */
  admit(topic: string, payloadBytes: number): boolean {
    this.#forget(topic);
    if (payloadBytes === 0) return true;
    const size = encoder.encode(topic).byteLength + payloadBytes;
    if (
      this.#sizes.size + 1 > this.#limits.maxTopics || this.#bytes + size > this.#limits.maxBytes
    ) {
      return false;
    }
    this.#sizes.set(topic, size);
    this.#bytes += size;
    return true;
  }

  #forget(topic: string): void {
    const previous = this.#sizes.get(topic);
    if (previous === undefined) return;
    this.#sizes.delete(topic);
    this.#bytes -= previous;
  }
}
