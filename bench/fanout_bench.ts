/**
 * `deno task bench`: fan-out throughput and latency of `serve` on loopback.
 *
 * Starts `serve` (embedded broker, throttle off) as a subprocess, opens N WebSocket clients in a
 * second process, publishes readings at a fixed rate over MQTT for a fixed time, and prints
 * deliveries/s, broker-to-client latency p50/p99, delivery ratio, server CPU per delivered
 * message and server RSS per connection.
 *
 *   deno task bench [--clients 1000] [--rate 50] [--duration 10] [--throttle 0]
 *   (--throttle S: serve's per-sensor --rate-limit, off by default so the load reaches fan-out;
 *   --rate 5 --throttle 1 is five sensors at exactly the throttle's rate)
 *   deno task bench --overload   the overload loads, serve pinned to a core (overload.ts)
 *   deno task bench --memory     RSS per idle connection, serve against bare Deno (memory.ts)
 *   deno task bench --history    bytes per stored reading, 10,000 sensors × 1 h (history_memory.ts)
 *   deno task bench --workers    serve --workers 1 / 2 / two processes at 10,000 clients (workers.ts)
 */
import mqtt from "mqtt";
import { mintToken } from "../server/token.ts";
import { runMemory } from "./memory.ts";
import { runOverload } from "./overload.ts";
import { runWorkersBench } from "./workers.ts";

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
        `usage: deno task bench [--clients N] [--rate R] [--duration S] [--throttle S] (${
          argv[i]
        })`,
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
function procStats(pid: number): ProcStats {
  const read = (path: string) =>
    new TextDecoder().decode(new Deno.Command("cat", { args: [path] }).outputSync().stdout);
  const stat = read(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(read(`/proc/${pid}/status`))?.[1] ?? 0);
  return { cpu: ticks / 100, rss: rssKb * 1024 };
}

/** CPU seconds and RSS bytes of a process. */
interface ProcStats {
  cpu: number;
  rss: number;
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

function spawnServer(
  port: number,
  mqttPort: number,
  clients: number,
  throttle: number,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      `${root}main.ts`,
      "serve",
      ...["--port", String(port), "--hostname", "127.0.0.1", "--mqtt-port", String(mqttPort)],
      ...[
        "--rate-limit",
        String(throttle),
        "--log-level",
        "warn",
        "--max-clients",
        String(clients + 10),
      ],
    ],
    env: { JWT_SECRET: SECRET },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

function spawnClients(url: string, clients: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `${root}bench/clients.ts`, url, String(clients)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** The history store's memory, in a process with room for 1.4 GB of readings and a visible GC. */
async function runHistoryMemory(argv: string[]): Promise<number> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc,--max-old-space-size=4096",
      `${root}bench/history_memory.ts`,
      ...argv,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

/** Publishes `total` readings over 5 sensors at `rate`/s; returns the seconds it took. */
async function publishAtRate(pub: mqtt.MqttClient, rate: number, total: number): Promise<number> {
  const sensors = ["V1", "V2", "V3", "V4", "V5"];
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / rate;
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
  return (performance.now() - start) / 1000;
}

/** What the clients process reports on STOP (bench/clients.ts). */
interface ClientsReport {
  delivered: number;
  minPerClient: number;
  maxPerClient: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  closedEarly: number;
}

function resultOf(
  r: ClientsReport,
  run: { clients: number; rate: number; total: number; publishSeconds: number },
  server: { idle: ProcStats; connected: ProcStats; after: ProcStats },
) {
  const { clients, total } = run;
  const { idle, connected, after } = server;
  const cpu = after.cpu - connected.cpu;
  return {
    machine: `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
    clients,
    published: total,
    publishRatePerSec: run.rate,
    deliveriesPerSec: Math.round(r.delivered / run.publishSeconds),
    deliveryRatio: r.delivered / (total * clients),
    perClient: { min: r.minPerClient, max: r.maxPerClient, expected: total },
    latencyMs: { p50: r.p50ms, p99: r.p99ms, max: r.maxms },
    serverCpuSeconds: Number(cpu.toFixed(2)),
    serverCpuMicrosPerDelivery: Number(((cpu * 1e6) / Math.max(1, r.delivered)).toFixed(2)),
    serverRssMiB: { idle: idle.rss / 2 ** 20, connected: connected.rss / 2 ** 20 },
    serverRssKiBPerConnection: Number(((connected.rss - idle.rss) / 1024 / clients).toFixed(1)),
    clientsClosedEarly: r.closedEarly,
  };
}

/** The fan-out bench (the default mode), exactly as before `--overload` existed. */
async function fanout(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const CLIENTS = args.clients ?? 1000;
  const RATE = args.rate ?? 50; // readings per second, over 5 sensors
  const DURATION_S = args.duration ?? 10;
  const port = freePort();
  const mqttPort = freePort();
  const server = spawnServer(port, mqttPort, CLIENTS, args.throttle ?? 0);
  const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let clients: Deno.ChildProcess | undefined;
  try {
    await readUntil(serverOut, /serving ws:/);
    const idle = procStats(server.pid);
    const token = await mintToken(SECRET, { sub: "bench", ttlSec: 3600 });
    clients = spawnClients(`ws://127.0.0.1:${port}/ws/sensors?token=${token}`, CLIENTS);
    const clientOut = clients.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await readUntil(clientOut, /READY/);
    await new Promise((r) => setTimeout(r, 500));
    const connected = procStats(server.pid);

    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
    const total = Math.round(RATE * DURATION_S);
    const publishSeconds = await publishAtRate(pub, RATE, total);
    await new Promise((r) => setTimeout(r, 2_000)); // let the last readings arrive
    const after = procStats(server.pid);
    await pub.endAsync();

    const stdin = clients.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("STOP\n"));
    await stdin.close();
    const [, json] = await readUntil(clientOut, /(\{.*\})\n/);
    const r = JSON.parse(json!) as ClientsReport;
    await clients.status;
    clients = undefined;
    const run = { clients: CLIENTS, rate: RATE, total, publishSeconds };
    write(JSON.stringify(resultOf(r, run, { idle, connected, after }), null, 2) + "\n");
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
}

if (import.meta.main) {
  if (Deno.args[0] === "--overload") Deno.exitCode = await runOverload(Deno.args.slice(1));
  else if (Deno.args[0] === "--memory") Deno.exitCode = await runMemory(Deno.args.slice(1));
  else if (Deno.args[0] === "--history") Deno.exitCode = await runHistoryMemory(Deno.args.slice(1));
  else if (Deno.args[0] === "--workers") Deno.exitCode = await runWorkersBench(Deno.args.slice(1));
  else await fanout(Deno.args);
}
