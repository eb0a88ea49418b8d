/**
 * What a socket may hold before its token is checked: a few text messages within the message
 * limit, answered once the client is admitted. Binary messages and anything beyond are dropped.
 * @module
 */

/** Messages a client may send before its token is checked; more are dropped. */
export const MAX_EARLY_MESSAGES = 16;

/** The early messages of one socket. */
export class EarlyMessages {
  readonly #maxBytes: number;
  #texts: string[] = [];
  #bytes = 0;

  /** Holds at most {@link MAX_EARLY_MESSAGES} texts, `maxBytes` UTF-16 units in all. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Keeps `data` if it is text and fits; drops it otherwise. */
  offer(data: unknown): void {
    if (typeof data !== "string" || this.#texts.length >= MAX_EARLY_MESSAGES) return;
    if (this.#bytes + data.length > this.#maxBytes) return;
    this.#texts.push(data);
    this.#bytes += data.length;
  }

  /** The kept messages, oldest first; the buffer is empty afterwards. */
  take(): string[] {
    const texts = this.#texts;
    this.#texts = [];
    this.#bytes = 0;
    return texts;
  }
}

/** A message event's size: UTF-16 units of text (a lower bound of its bytes), or bytes. */
export function frameSize(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return data instanceof Blob ? data.size : 0;
}
