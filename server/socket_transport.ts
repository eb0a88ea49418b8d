/**
 * A WebSocket as the hub sees it: sends go straight to the socket (the fan-out's hot path);
 * closes go through the socket's connection, which owns the close deadline and the release.
 * @module
 */
import type { Transport } from "./hub.ts";

/** The hub's view of a socket: sends go straight through; closes go through the connection. */
export class SocketTransport implements Transport {
  readonly #socket: WebSocket;
  readonly #close: (code: number, reason: string) => void;

  /** Wraps `socket`; `close` is the connection's close. */
  constructor(socket: WebSocket, close: (code: number, reason: string) => void) {
    this.#socket = socket;
    this.#close = close;
  }

  /** Queues a text frame. */
  send(data: string): void {
    this.#socket.send(data);
  }

  /** Closes through the connection. */
  close(code: number, reason: string): void {
    this.#close(code, reason);
  }

  /** Bytes queued but not sent. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** The socket's ready state. */
  get readyState(): number {
    return this.#socket.readyState;
  }
}
