/**
 * Log lines to a stream that may be slow, full or gone. A synchronous write to a pipe nobody
 * reads blocks the whole event loop (and with it every client's fan-out), and a write to a
 * closed pipe throws into whoever logged. Here lines wait in a bounded queue and are written
 * in the background; when the queue is full they are dropped and counted, and the count is
 * written where the gap is once the stream has caught up.
 * @module
 */

/** Writes some of `bytes` and says how many, like `Deno.stderr.write`. */
export type WriteBytes = (bytes: Uint8Array) => Promise<number>;

/** Options of {@link LogWriter}. */
export interface LogWriterOptions {
  /** Most lines waiting to be written. Default 1,000. */
  maxLines?: number;
  /** Most bytes waiting to be written. Default 1 MiB. */
  maxBytes?: number;
}

/** Lines to wait on at most, by default. */
export const LOG_QUEUE_LINES = 1_000;
/** Bytes to wait on at most, by default. */
export const LOG_QUEUE_BYTES = 1024 * 1024;
/** Largest single write, so one slow write holds back little. */
const BATCH_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** A non-blocking, never-throwing line writer with a bounded queue. */
export class LogWriter {
  readonly #write: WriteBytes;
  readonly #maxLines: number;
  readonly #maxBytes: number;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Lines dropped since the queue was last empty; while > 0 every new line is dropped too. */
  #dropping = 0;
  #pump: Promise<void> = Promise.resolve();
  /** True from the first queued line until the queue is empty and the drop count written. */
  #pumping = false;
  #error: unknown;
  #failed = false;

  /** `write` is where lines go, e.g. `(b) => Deno.stderr.write(b)`. */
  constructor(write: WriteBytes, options: LogWriterOptions = {}) {
    this.#write = write;
    this.#maxLines = options.maxLines ?? LOG_QUEUE_LINES;
    this.#maxBytes = options.maxBytes ?? LOG_QUEUE_BYTES;
  }

  /**
   * Queues `text` plus a newline and returns at once; never throws. Dropped when the queue is
   * full, and from then on until it has drained, so the gap is in one place and its size is
   * written there: `N log lines dropped (stderr too slow)`.
   */
  line(text: string): void {
    if (this.#failed) return;
    const bytes = encoder.encode(text + "\n");
    const full = this.#queue.length >= this.#maxLines ||
      this.#queuedBytes + bytes.length > this.#maxBytes;
    if (this.#dropping > 0 || full) this.#dropping++;
    else {
      this.#queue.push(bytes);
      this.#queuedBytes += bytes.length;
    }
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pump = this.#drain();
    }
  }

  /** Lines dropped and not yet reported. */
  get dropped(): number {
    return this.#dropping;
  }

  /** The first write error; after it, every line is discarded. */
  get error(): unknown {
    return this.#error;
  }

  /** Resolves once every queued line is written, or after `timeoutMs`, whichever is first. */
  async flush(timeoutMs = 1_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    try {
      while (this.#pumping) {
        const done = this.#pump.then(() => true);
        if (!await Promise.race([done, timeout.then(() => false)])) return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 || this.#dropping > 0) {
        if (this.#queue.length > 0) await this.#writeAll(this.#takeBatch());
        else {
          const n = this.#dropping;
          this.#dropping = 0;
          const notice = `${n} log line${n === 1 ? "" : "s"} dropped (stderr too slow)\n`;
          await this.#writeAll(encoder.encode(notice));
        }
      }
    } catch (error) {
      // Broken pipe, closed descriptor: nowhere left to say so, and logging must not throw.
      this.#error = error;
      this.#failed = true;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#dropping = 0;
    } finally {
      this.#pumping = false;
    }
  }

  /** Removes queued lines, up to {@link BATCH_BYTES} (at least one), as one buffer. */
  #takeBatch(): Uint8Array {
    let n = 0;
    let size = 0;
    while (n < this.#queue.length && (n === 0 || size + this.#queue[n]!.length <= BATCH_BYTES)) {
      size += this.#queue[n++]!.length;
    }
    const lines = this.#queue.splice(0, n);
    this.#queuedBytes -= size;
    if (lines.length === 1) return lines[0]!;
    const batch = new Uint8Array(size);
    let off = 0;
    for (const l of lines) {
      batch.set(l, off);
      off += l.length;
    }
    return batch;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#write(bytes.subarray(off));
  }
}
