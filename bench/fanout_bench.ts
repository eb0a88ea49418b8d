/**
 * `deno task bench`: fan-out throughput and latency of `serve` on loopback.
 *
 * Starts `serve` (embedded broker, throttle off) as a subprocess, opens N WebSocket clients in a
 * second process, publishes readings at a fixed rate over MQTT for a fixed time, and prints
 * deliveries/s, broker-to-client latency p50/p99, delivery ratio, server CPU per delivered
 * message and server RSS per connection.
 *
 *   deno task bench [--clients 1000] [--rate 50] [--duration 10]
 */
import mqtt from "mqtt";
import { mintToken } from "../server/token.ts";

const args = parseArgs(Deno.args);
const CLIENTS = args.clients ?? 1000;
const RATE = args.rate ?? 50; // readings per second, over 5 sensors
const DURATION_S = args.duration ?? 10;
const SECRET = "bench-secret-bench-secret-bench-secret-0";
const root = new URL("..", import.meta.url).pathname;
const write = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s));

function parseArgs(argv: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, "");
    const value = Number(argv[i + 1]);
    if (!key || !Number.isFinite(value) || value <= 0) {
      throw new Error(
        `usage: deno task bench [--clients N] [--rate R] [--duration S] (${argv[i]})`,
      );
    }
    out[key] = value;
  }
  return out;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** CPU seconds (user+system) and RSS bytes of a process, from /proc (read by `cat`: Deno
 * asks for --allow-all to read /proc directly, and the bench should not need that). */
function procStats(pid: number): { cpu: number; rss: number } {
  const read = (path: string) =>
    new TextDecoder().decode(new Deno.Command("cat", { args: [path] }).outputSync().stdout);
  const stat = read(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(read(`/proc/${pid}/status`))?.[1] ?? 0);
  return { cpu: ticks / 100, rss: rssKb * 1024 };
}

async function readUntil(reader: ReadableStreamDefaultReader<string>, pattern: RegExp) {
  let seen = "";
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    const m = seen.match(pattern);
    if (m) return m;
  }
  throw new Error(`did not see ${pattern}; output so far:\n${seen}`);
}

const port = freePort();
const mqttPort = freePort();
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `${root}main.ts`,
    "serve",
    ...["--port", String(port), "--hostname", "127.0.0.1", "--mqtt-port", String(mqttPort)],
    ...["--rate-limit", "0", "--log-level", "warn", "--max-clients", String(CLIENTS + 10)],
  ],
  env: { JWT_SECRET: SECRET },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
let clients: Deno.ChildProcess | undefined;
try {
  await readUntil(serverOut, /serving ws:/);
  const idle = procStats(server.pid);
  const token = await mintToken(SECRET, { sub: "bench", ttlSec: 3600 });
  clients = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `${root}bench/clients.ts`,
      `ws://127.0.0.1:${port}/ws/sensors?token=${token}`,
      String(CLIENTS),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const clientOut = clients.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await readUntil(clientOut, /READY/);
  await new Promise((r) => setTimeout(r, 500));
  const connected = procStats(server.pid);

  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  const sensors = ["V1", "V2", "V3", "V4", "V5"];
  const total = Math.round(RATE * DURATION_S);
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const payload = JSON.stringify({
      moisture: 40 + (k % 10),
      temperature: 21.5,
      humidity: 60,
      light: 750,
      timestamp: new Date().toISOString(),
    });
    pub.publish(`sensors/${sensors[k % sensors.length]}/data`, payload);
  }
  const publishSeconds = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 2_000)); // let the last readings arrive
  const after = procStats(server.pid);
  await pub.endAsync();

  const stdin = clients.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("STOP\n"));
  await stdin.close();
  const [, json] = await readUntil(clientOut, /(\{.*\})\n/);
  const r = JSON.parse(json!);
  await clients.status;
  clients = undefined;

  const expected = total * CLIENTS;
  const cpu = after.cpu - connected.cpu;
  const result = {
    machine: `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
    clients: CLIENTS,
    published: total,
    publishRatePerSec: RATE,
    deliveriesPerSec: Math.round(r.delivered / publishSeconds),
    deliveryRatio: r.delivered / expected,
    perClient: { min: r.minPerClient, max: r.maxPerClient, expected: total },
    latencyMs: { p50: r.p50ms, p99: r.p99ms, max: r.maxms },
    serverCpuSeconds: Number(cpu.toFixed(2)),
    serverCpuMicrosPerDelivery: Number(((cpu * 1e6) / Math.max(1, r.delivered)).toFixed(2)),
    serverRssMiB: { idle: idle.rss / 2 ** 20, connected: connected.rss / 2 ** 20 },
    serverRssKiBPerConnection: Number(((connected.rss - idle.rss) / 1024 / CLIENTS).toFixed(1)),
    clientsClosedEarly: r.closedEarly,
  };
  write(JSON.stringify(result, null, 2) + "\n");
} finally {
  if (clients) {
    try {
      clients.kill("SIGKILL");
    } catch { /* gone */ }
    await clients.status;
  }
  server.kill("SIGTERM");
  await server.status;
  await serverOut.cancel().catch(() => {});
}
