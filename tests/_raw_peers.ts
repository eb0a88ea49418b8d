/**
 * WebSocket peers that misbehave at the TCP level, which no WebSocket API can imitate: they reset
 * the connection (RST, as a dropped mobile link does) at a chosen stage of the handshake.
 */
import net from "node:net";
import { within } from "./_helpers.ts";

/** Where in the handshake a peer resets. */
export type ResetStage = "connect" | "partial-request" | "request" | "upgraded";

/** The upgrade request for `/ws/sensors`, token in the query or in an Authorization header. */
export function upgradeRequest(
  options: { token?: string; header?: boolean; path?: string } = {},
): string {
  const query = options.token !== undefined && !options.header ? `?token=${options.token}` : "";
  const auth = options.token !== undefined && options.header
    ? `Authorization: Bearer ${options.token}\r\n`
    : "";
  return `GET ${options.path ?? "/ws/sensors"}${query} HTTP/1.1\r\nHost: x\r\n${auth}` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and resets it (SO_LINGER 0 + close) at `stage`:
 * right after connecting, half-way through the request, right after the whole request (before
 * the server's 101 can arrive), or after the 101 arrived. Resolves once the reset is sent.
 */
export function resetAt(port: number, stage: ResetStage, token = "x"): Promise<void> {
  const request = upgradeRequest({ token });
  const done = new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const reset = () => {
      socket.resetAndDestroy();
      resolve();
    };
    socket.on("error", () => {}); // our own reset, or the server's answer to it
    socket.on("connect", () => {
      if (stage === "connect") return reset();
      if (stage === "partial-request") return socket.write(request.slice(0, 40), () => reset());
      socket.write(request);
      if (stage === "request") return reset();
      socket.once("data", () => reset());
    });
    socket.on("close", () => resolve());
    socket.setTimeout(3_000, () => {
      socket.destroy();
      reject(new Error(`no 101 within 3 s (stage ${stage})`));
    });
  });
  return within(5_000, done, `reset at ${stage}`);
}
