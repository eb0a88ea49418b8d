/**
 * A WebSocket as the hub sees it: sends go straight to the socket (the fan-out's hot path);
 * closes go through the socket's connection, which owns the close deadline and the release.
 * @module
 */
import type { Transport } from "./hub.ts";

/** The connection a transport closes through. */
export interface TransportOwner {
  close(close: { code: number; reason: string }): void;
}

/** The hub's view of a socket: sends go straight through; closes go through the connection. */
export class SocketTransport implements Transport {
  readonly #socket: WebSocket;
  readonly #owner: TransportOwner;

  /** Wraps `socket`; closes go through `owner`, its connection. */
  constructor(socket: WebSocket, owner: TransportOwner) {
    this.#socket = socket;
    this.#owner = owner;
  }

  /** Queues a text frame. */
  send(data: string): void {
    this.#socket.send(data);
  }

  /** Closes through the connection. */
  close(code: number, reason: string): void {
    this.#owner.close({ code, reason });
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
