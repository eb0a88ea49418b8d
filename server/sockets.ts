/**
 * Every upgraded socket until it is released, verified or not: what the admission limit and
 * the `sensorstream_sockets` gauge read, and what shutdown closes.
 * @module
 */

/** What the registry holds: a socket's connection. */
export interface RegisteredSocket {
  /** Closes with a code and reason; the socket is released when the close completes. */
  close(close: { code: number; reason: string }, options?: { now?: boolean }): void;
  /** Forgets the socket at once, whatever state it is in. */
  release(code: number, reason: string): void;
}

/** The set of sockets not yet released, and of those released while still lingering. */
export class SocketRegistry {
  readonly #sockets = new Set<RegisteredSocket>();
  readonly #lingering = new Set<RegisteredSocket>();

  /** Sockets not yet released. */
  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Released sockets whose peer never answered our close: they no longer count, but the runtime
   * keeps them (and their buffers) until the peer lets go of the connection.
   */
  get lingering(): number {
    return this.#lingering.size;
  }

  /** Records a released socket that the runtime still holds. */
  linger(socket: RegisteredSocket): void {
    this.#lingering.add(socket);
  }

  /** The runtime let go of a socket (its close event came). */
  forget(socket: RegisteredSocket): void {
    this.#lingering.delete(socket);
  }

  /** Registers a socket. */
  add(socket: RegisteredSocket): void {
    this.#sockets.add(socket);
  }

  /** Forgets a socket; false when it was not registered. */
  delete(socket: RegisteredSocket): boolean {
    return this.#sockets.delete(socket);
  }

  /** Closes every socket at once (each is released when its close completes or times out). */
  closeAll(close: { code: number; reason: string }): void {
    for (const socket of [...this.#sockets]) socket.close(close, { now: true });
  }

  /** Releases every socket now (the end of shutdown: nothing may outlive the server). */
  releaseAll(code: number, reason: string): void {
    for (const socket of [...this.#sockets]) socket.release(code, reason);
    this.#lingering.clear();
  }
}
