/**
 * `deno task bench --workers`: deliveries/s and server CPU per delivery of `serve --workers N` at
 * 10,000 clients, for 1 and 2 workers, and (for the design choice) 2 workers as two processes
 * sharing the port instead of two threads in one. Each run: a fresh server (embedded broker,
 * throttle off), the clients in one other process (bench/clients.ts), readings published over
 * MQTT at a fixed rate over 5 sensors; server CPU from /proc (all its threads; for processes,
 * both), the clients' too: on a 2-core machine they compete for the same cores.
 *
 *   deno task bench --workers [--clients 10000] [--rate 5,10,20] [--duration 10] [--modes 1,2,2p]
 *   (modes: 1 = serve, 2 = serve --workers 2, 2p = two processes with SO_REUSEPORT)
 * @module
 */
import mqtt from "mqtt";
import { mintToken } from "../server/token.ts";
import { freePort, machine, MachineCpu, Output, procStats, sleep, write } from "./bench_procs.ts";

const SECRET = "bench-secret-bench-secret-bench-secret-0";
const root = new URL("..", import.meta.url).pathname;
/** What `deno task serve` grants for workers, beyond net and env. */
const WORKER_FLAGS = [
  "--unstable-net",
  "--allow-sys",
  `--allow-read=${["server", "lib", "protocol"].map((d) => root + d).join(",")}`,
];

/** One server configuration. */
type Mode = "1" | "2" | "2p";

interface Spec {
  clients: number;
  rate: number;
  duration: number;
}

/** What the clients process reports on STOP (bench/clients.ts). */
interface ClientsReport {
  delivered: number;
  p50ms: number;
  p99ms: number;
  closedEarly: number;
}

/** One run's figures. */
export interface WorkersResult {
  mode: Mode;
  clients: number;
  rate: number;
  offeredPerSec: number;
  deliveriesPerSec: number;
  deliveryRatio: number;
  latencyMs: { p50: number; p99: number };
  serverCores: number;
  clientsCores: number;
  serverCpuMicrosPerDelivery: number;
  serverRssMiB: number;
  clientsPerWorker: number[];
  /** Cores other processes on the machine used meanwhile (a busy machine skews the rest). */
  otherCores: number;
}

interface Proc {
  child: Deno.ChildProcess;
  out: Output;
}

function spawn(args: string[], env: Record<string, string> = {}): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  new Output(child.stderr);
  return { child, out: new Output(child.stdout) };
}

async function stop(p: Proc): Promise<void> {
  try {
    p.child.kill("SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 6_000);
  await p.child.status;
  clearTimeout(timer);
}

/** Starts the server(s) of `mode` on `port`; resolves once all serve. */
async function startServers(mode: Mode, spec: Spec, port: number, mqttPort: number) {
  const common = ["--port", String(port), "--hostname", "127.0.0.1"];
  const limits = ["--rate-limit", "0", "--log-level", "warn"];
  const max = ["--max-clients", String(spec.clients + 10)];
  const env = { JWT_SECRET: SECRET };
  const procs: Proc[] = [];
  if (mode === "2p") {
    const script = `${root}bench/reuseport_server.ts`;
    const perms = ["run", "--allow-net", "--allow-env", "--allow-sys", "--unstable-net", script];
    const args = [String(port), String(mqttPort), String(spec.clients + 10)];
    procs.push(spawn([...perms, ...args, "broker"], env));
    await procs[0]!.out.match(/serving/, { ms: 30_000, what: "server 0" });
    procs.push(spawn([...perms, ...args, "client"], env));
    await procs[1]!.out.match(/serving/, { ms: 30_000, what: "server 1" });
  } else {
    const args = ["run", "--allow-net", "--allow-env", ...WORKER_FLAGS, `${root}main.ts`, "serve"];
    const flags = [...common, "--mqtt-port", String(mqttPort), ...limits, ...max];
    procs.push(spawn([...args, ...flags, "--workers", mode], env));
    await procs[0]!.out.match(/serving ws:/, { ms: 30_000, what: "serve" });
  }
  return procs;
}

/** Clients by worker, from `/metrics` (threads only; one number otherwise). */
async function clientsPerWorker(port: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^sensorstream_clients(?:\{worker="\d+"\})? (\d+)$/gm)].map((m) =>
    Number(m[1])
  );
}

async function publishAtRate(url: string, rate: number, total: number): Promise<number> {
  const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  const sensors = ["V1", "V2", "V3", "V4", "V5"];
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    const wait = start + (k * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const payload = JSON.stringify({
      moisture: 40 + (k % 10),
      temperature: 21.5,
      humidity: 60,
      light: 750,
      timestamp: new Date().toISOString(),
    });
    pub.publish(`sensors/${sensors[k % sensors.length]}/data`, payload);
  }
  const seconds = (performance.now() - start) / 1000;
  await pub.endAsync();
  return seconds;
}

/** One run: a fresh server of `mode`, the clients, the load, the figures. */
export async function runOne(mode: Mode, spec: Spec): Promise<WorkersResult> {
  const port = freePort();
  const mqttPort = freePort();
  const servers = await startServers(mode, spec, port, mqttPort);
  let clients: Proc | undefined;
  try {
    const token = await mintToken(SECRET, { sub: "bench", ttlSec: 3600 });
    const url = `ws://127.0.0.1:${port}/ws/sensors?token=${token}`;
    clients = spawn(["run", "--allow-net", `${root}bench/clients.ts`, url, String(spec.clients)]);
    await clients.out.match(/READY/, { ms: 120_000, what: "clients" });
    await sleep(2_000); // the last handshakes settle, and /metrics has merged them
    const spread = mode === "2p" ? [] : await clientsPerWorker(port);
    const cpu = () => servers.reduce((sum, s) => sum + procStats(s.child.pid).cpu, 0);
    const rss = () => servers.reduce((sum, s) => sum + procStats(s.child.pid).rss, 0);
    const others = new MachineCpu([
      ...servers.map((s) => s.child.pid),
      clients.child.pid,
      Deno.pid,
    ]);
    const [server0, clients0, t0] = [cpu(), procStats(clients.child.pid).cpu, performance.now()];
    const total = Math.round(spec.rate * spec.duration);
    const publishSeconds = await publishAtRate(`mqtt://127.0.0.1:${mqttPort}`, spec.rate, total);
    await sleep(2_000); // the last readings arrive
    const [server1, clients1, t1] = [cpu(), procStats(clients.child.pid).cpu, performance.now()];
    const otherCpu = others.read().others;
    const serverRss = rss();
    const stdin = clients.child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("STOP\n"));
    await stdin.close();
    const [, json] = await clients.out.match(/(\{.*\})\n/, { ms: 30_000, what: "report" });
    const r = JSON.parse(json!) as ClientsReport;
    await clients.child.status;
    clients = undefined;
    const wall = (t1 - t0) / 1000;
    return {
      mode,
      clients: spec.clients,
      rate: spec.rate,
      offeredPerSec: spec.rate * spec.clients,
      deliveriesPerSec: Math.round(r.delivered / publishSeconds),
      deliveryRatio: r.delivered / (total * spec.clients),
      latencyMs: { p50: r.p50ms, p99: r.p99ms },
      serverCores: (server1 - server0) / wall,
      clientsCores: (clients1 - clients0) / wall,
      serverCpuMicrosPerDelivery: ((server1 - server0) * 1e6) / Math.max(1, r.delivered),
      serverRssMiB: serverRss / 2 ** 20,
      clientsPerWorker: spread,
      otherCores: otherCpu / wall,
    };
  } finally {
    if (clients) await stop(clients);
    for (const s of servers.reverse()) await stop(s);
  }
}

const MODE_NAMES: Record<Mode, string> = {
  "1": "1 worker",
  "2": "2 workers (threads)",
  "2p": "2 processes",
};

/** The results as a Markdown table. */
export function workersMarkdown(results: WorkersResult[]): string {
  const n = (v: number, d = 0) =>
    v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  const rows = results.map((r) =>
    `| ${MODE_NAMES[r.mode]} | ${n(r.clients)} × ${r.rate}/s (${n(r.offeredPerSec)}/s) | ` +
    `${n(r.deliveriesPerSec)} | ${n(r.deliveryRatio * 100, 1)} % | ` +
    `${n(r.latencyMs.p50)} / ${n(r.latencyMs.p99)} ms | ${
      n(r.serverCpuMicrosPerDelivery, 1)
    } µs | ` +
    `${n(r.serverCores, 2)} | ${n(r.clientsCores, 2)} | ${n(r.serverRssMiB)} MiB | ` +
    `${r.clientsPerWorker.length > 1 ? r.clientsPerWorker.map((c) => n(c)).join(" / ") : "–"} | ` +
    `${n(r.otherCores, 2)} |`
  );
  return [
    "| Server | Load (offered) | Deliveries/s | Delivered | Latency p50 / p99 | Server CPU per delivery | Server cores | Clients cores | Server RSS | Clients per worker | Other processes' cores |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n") + "\n";
}

/** `deno task bench --workers [...]`; returns the exit code. */
export async function runWorkersBench(argv: string[]): Promise<number> {
  const value = (flag: string, fallback: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] ?? fallback : fallback;
  };
  const clients = Number(value("--clients", "10000"));
  const rates = value("--rate", "5,10,20").split(",").map(Number);
  const duration = Number(value("--duration", "10"));
  const modes = value("--modes", "1,2,2p").split(",") as Mode[];
  if (modes.some((m) => !(m in MODE_NAMES))) throw new RangeError(`--modes takes 1, 2, 2p`);
  const results: WorkersResult[] = [];
  for (const rate of rates) {
    for (const mode of modes) {
      Deno.stderr.writeSync(new TextEncoder().encode(`workers: ${MODE_NAMES[mode]}, ${rate}/s\n`));
      results.push(await runOne(mode, { clients, rate, duration }));
    }
  }
  write(`${machine()}\n\n${workersMarkdown(results)}\n${JSON.stringify(results)}\n`);
  return 0;
}
