/**
 * One overload load against a fresh `serve`: serve pinned to core 0, the clients process and the
 * publisher (this process) on core 1; RSS and CPU sampled when connected, at the end of
 * publishing, at the check after it and after the drain; the clients' tally read at the end.
 * Every wait is bounded; the children are killed in `finally`.
 * @module
 */
import { mintToken } from "../server/token.ts";
import {
  type Child,
  type CpuTimes,
  freePort,
  MachineCpu,
  type ProcStats,
  procStats,
  sleep,
  spawnDeno,
} from "./bench_procs.ts";
import {
  closePublisher,
  connectPublisher,
  type Published,
  publishPlan,
} from "./overload_publisher.ts";
import type { MqttClient } from "mqtt";
import type { FinalCheck, TallySummary } from "./reading_tally.ts";

/** One load. */
export interface LoadSpec {
  clients: number;
  /** Readings per second over all sensors. */
  rate: number;
  sensors: number;
  publishSeconds: number;
  /** Time after publishing stops until the last check. */
  drainSeconds: number;
  /** Time after publishing stops until the first "ended on the last values" check. */
  checkSeconds: number;
}

/** Server, clients and this process (the publisher) at one moment. */
export interface Sample {
  at: number;
  server: ProcStats;
  clients: ProcStats;
  publisher: ProcStats;
  /** Busy seconds per core, and CPU seconds of other processes, so far. */
  machine: CpuTimes;
}

/** A {@link FinalCheck} as the clients printed it. */
export type Check = FinalCheck & { label: string; at: number };

/** What one load produced; fields are missing when the run failed before them. */
export interface LoadResult {
  spec: LoadSpec;
  error?: string;
  /** How serve ended when it ended before we stopped it. */
  serverDied?: string;
  startupRss?: number;
  connect?: { ready: number; failed: number; ms: number; failures: Record<string, number> };
  connected?: Sample;
  endOfPublish?: Sample;
  afterCheck?: Sample;
  drained?: Sample;
  published?: Published;
  checks?: { afterCheck?: Check; drained?: Check };
  summary?: TallySummary & {
    closed: number;
    closeCodes: Record<string, number>;
    /** Reads the clients did (all sockets): frames per read near 1 means they kept up. */
    reads: number;
    otherTexts: number;
  };
  wallSeconds?: number;
}

/** The JWT secret the benches' `serve` runs with. */
export const BENCH_SECRET = "bench-secret-bench-secret-bench-secret-0";
const root = new URL("..", import.meta.url).pathname;

/** Spawns `serve` on core 0: embedded broker, throttle off, room for `clients`. */
export function spawnServe(options: { clients: number; port: number; mqttPort: number }): Child {
  const { clients, port, mqttPort } = options;
  const flags = [
    ...["--port", String(port), "--hostname", "127.0.0.1", "--mqtt-port", String(mqttPort)],
    ...["--rate-limit", "0", "--log-level", "warn", "--max-clients", String(clients + 10)],
  ];
  const args = ["run", "--allow-net", "--allow-env", "--allow-sys", `${root}main.ts`, "serve"];
  return spawnDeno([...args, ...flags], { core: 0, env: { JWT_SECRET: BENCH_SECRET } });
}

/** Spawns the raw clients process on `core`; `path` is `/ws/sensors?token=...` or `/`. */
export function spawnClients(
  port: number,
  options: { clients: number; sensors: number; path: string },
): Child {
  const { clients, sensors, path } = options;
  const script = `${root}bench/raw_clients.ts`;
  const args = ["127.0.0.1", String(port), path, String(clients), String(sensors)];
  return spawnDeno(["run", "--allow-net", script, ...args], { core: 1 });
}

/** Parses the JSON a child printed on the line matching `pattern` (group 1). */
export async function readJson<T>(
  child: Child,
  pattern: RegExp,
  wait: { ms: number; what: string },
): Promise<T> {
  return JSON.parse((await child.out.match(pattern, wait))[1]!) as T;
}

/** Samples serve, the clients, this process and the machine. */
function sampler(server: Child, clients: Child): () => Sample {
  const machine = new MachineCpu([server.pid, clients.pid, Deno.pid]);
  return () => ({
    at: performance.now(),
    server: procStats(server.pid),
    clients: procStats(clients.pid),
    publisher: procStats(Deno.pid),
    machine: machine.read(),
  });
}

async function check(clients: Child, label: string): Promise<Check> {
  await clients.send(`CHECK ${label}`);
  return await readJson<Check>(
    clients,
    new RegExp(`(\\{"label":"${label}".*\\})\\n`),
    { ms: 10_000, what: label },
  );
}

/** Publishes, then checks at `checkSeconds` and `drainSeconds` after the end; fills `rec`. */
async function measure(
  rec: LoadResult,
  procs: { server: Child; clients: Child; publisher: MqttClient },
): Promise<void> {
  const { spec } = rec;
  const { server, clients, publisher } = procs;
  const sampleOf = sampler(server, clients);
  rec.connected = sampleOf();
  rec.published = await publishPlan(
    publisher,
    { rate: spec.rate, seconds: spec.publishSeconds, sensors: spec.sensors },
    {
      onStart: (at) => void clients.send(`START ${at} ${spec.publishSeconds}`),
      halted: () => server.exit !== null,
    },
  );
  rec.endOfPublish = sampleOf();
  const end = rec.published.endedAt;
  rec.checks = {};
  await sleep(Math.max(0, end + spec.checkSeconds * 1000 - Date.now()));
  rec.checks.afterCheck = await check(clients, "check");
  rec.afterCheck = sampleOf();
  await sleep(Math.max(0, end + spec.drainSeconds * 1000 - Date.now()));
  rec.checks.drained = await check(clients, "drain");
  rec.drained = sampleOf();
  await clients.send("STOP");
  rec.summary = await readJson(clients, /(\{"clients".*\})\n/, {
    ms: 20_000,
    what: "clients summary",
  });
}

/** Runs one load against a fresh `serve`; never throws (a failure is in `error`). */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const began = performance.now();
  const [port, mqttPort] = [freePort(), freePort()];
  const rec: LoadResult = { spec };
  const server = spawnServe({ clients: spec.clients, port, mqttPort });
  let clients: Child | undefined;
  let publisher: MqttClient | undefined;
  try {
    await server.out.match(/serving ws:/, { ms: 20_000, what: "serve" });
    await sleep(500);
    rec.startupRss = procStats(server.pid).rss;
    const token = await mintToken(BENCH_SECRET, { sub: "bench", ttlSec: 3600 });
    const path = `/ws/sensors?token=${token}`;
    clients = spawnClients(port, { clients: spec.clients, sensors: spec.sensors, path });
    rec.connect = await readJson(clients, /READY (\{.*\})\n/, {
      ms: 90_000,
      what: "clients connecting",
    });
    publisher = await connectPublisher(`mqtt://127.0.0.1:${mqttPort}`);
    await sleep(1_000);
    await measure(rec, { server, clients, publisher });
  } catch (error) {
    rec.error = (error as Error).message.split("\n")[0];
  } finally {
    if (server.exit) rec.serverDied = `code ${server.exit.code}, signal ${server.exit.signal}`;
    if (server.exit) rec.error ??= `serve exited: ${server.err.tail(600)}`;
    if (publisher) await closePublisher(publisher, 2_000);
    await clients?.stop(0);
    await server.stop(5_000);
    rec.wallSeconds = (performance.now() - began) / 1000;
  }
  return rec;
}
