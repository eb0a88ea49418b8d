/**
 * Sending our close frame so that it arrives. Deno drops a closing socket the moment one more
 * frame comes in, before its close frame is written, so a close made while the peer's frames are
 * still coming (a client flooding garbage) would lose the frame and its reason. The frame goes
 * once the peer has paused and our own queued frames are out, or at a deadline.
 * @module
 */

/** The peer must be quiet this long before our close frame goes, ms. */
export const CLOSE_QUIET_MS = 200;

/** One pending close frame of one socket. */
export class PendingClose {
  readonly #socket: WebSocket;
  readonly #close: { code: number; reason: string };
  readonly #notAfter: number;
  readonly #onError: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sent = false;

  /**
   * Schedules `close` on `socket`, sent at the latest at `notAfter` (ms since the epoch; 0 =
   * now). `onError` runs when the socket refuses the close.
   */
  constructor(
    socket: WebSocket,
    close: { code: number; reason: string },
    notAfter: number,
    onError: () => void,
  ) {
    this.#socket = socket;
    this.#close = close;
    this.#notAfter = notAfter;
    this.#onError = onError;
    this.#arm();
  }

  /** The peer sent something: wait for the next pause. */
  peerSpoke(): void {
    if (!this.#sent) this.#arm();
  }

  /** Forgets the close (the socket is gone anyway). */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#sent = true;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const late = Date.now() >= this.#notAfter;
    this.#timer = setTimeout(() => this.#fire(), late ? 0 : CLOSE_QUIET_MS);
  }

  #fire(): void {
    // Our own queued frames go first too: the close frame waits behind them.
    if (this.#socket.bufferedAmount > 0 && Date.now() < this.#notAfter) return this.#arm();
    this.#sent = true;
    try {
      const { code, reason } = this.#close;
      if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close(code, reason);
    } catch {
      this.#onError();
    }
  }
}
