/**
 * The baseline of `deno task bench --memory`: the least a Deno WebSocket server can be. It keeps
 * every socket and sends each one `hello`; no auth, no hub, no broker.
 *
 *   deno run --allow-net bench/bare_ws_server.ts <port>
 *
 * Prints `listening on <port>` when ready.
 */
const port = Number(Deno.args[0] ?? 0);
const sockets = new Set<WebSocket>();

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: (addr) => {
    Deno.stdout.writeSync(new TextEncoder().encode(`listening on ${addr.port}\n`));
  },
}, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("WebSocket only\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onopen = () => socket.send("hello");
  socket.onclose = () => sockets.delete(socket);
  sockets.add(socket);
  return response;
});
