/** Scripted servers for the `command` client's tests: they greet, then answer each `command`. */
import { envelopeOf, type ServerMessage } from "../protocol/mod.ts";
import { greeting, ScriptedServer } from "./_tail_servers.ts";

export { ScriptedServer };

/** The time every scripted message carries. */
export const AT = new Date(Date.UTC(2025, 11, 6, 14, 30, 0));

type Status = Extract<ServerMessage, { type: "command_status" }>["data"]["status"];

/** A `command_status` for command `id` on V1. */
export function status(
  id: string,
  s: Status,
  more: { reason?: string; detail?: string } = {},
): ServerMessage {
  return envelopeOf("command_status", { id, sensor_id: "V1", status: s, ...more }, AT);
}

/**
 * A server that greets each client and answers its `command` with `reply(id)`: messages sent
 * at once, or a function given the socket for anything else.
 */
export function commandServer(
  reply: (id: string, ws: WebSocket) => ServerMessage[],
): ScriptedServer {
  return new ScriptedServer((ws) => {
    for (const m of greeting()) ws.send(JSON.stringify(m));
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data));
      if (msg.type !== "command") return;
      for (const m of reply(msg.id, ws)) ws.send(JSON.stringify(m));
    });
  });
}
