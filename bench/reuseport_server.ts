/**
 * One of the "2 processes" of `deno task bench --workers`: `startServer` with `SO_REUSEPORT` on
 * a shared port, with the embedded broker (`broker`) or connected to it (`client`). Prints
 * `serving` once it listens; SIGTERM stops it.
 *
 *   deno run --allow-net --allow-env --allow-sys --unstable-net bench/reuseport_server.ts \
 *     PORT MQTT_PORT MAX_CLIENTS broker|client
 */
import { startServer } from "../server/server.ts";
import { write } from "./bench_procs.ts";

const [port, mqttPort, maxClients, role] = Deno.args;
const server = await startServer({
  port: Number(port),
  hostname: "127.0.0.1",
  reusePort: true,
  mqtt: role === "broker"
    ? { embeddedPort: Number(mqttPort) }
    : { url: `mqtt://127.0.0.1:${mqttPort}` },
  auth: { secret: Deno.env.get("JWT_SECRET")! },
  limits: { rateLimitMs: 0, maxClients: Number(maxClients) },
});
write("serving\n");
const stop = () => void server.shutdown().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
