/**
 * `deno task bench --memory`: server RSS per connection at 10,000 idle clients, for `serve` and
 * for a bare Deno WebSocket server (`bare_ws_server.ts`) measured the same way: RSS after every
 * client is connected and 2 s idle, minus RSS before the first connection, over the clients.
 * Each server is measured twice, each run on a fresh process.
 * @module
 */
import { mintToken } from "../server/token.ts";
import {
  type Child,
  freePort,
  machine,
  mib,
  pinSelf,
  procStats,
  sleep,
  spawnDeno,
  write,
} from "./bench_procs.ts";
import { BENCH_SECRET, readJson, spawnClients, spawnServe } from "./overload_run.ts";

/** One server measured once. */
interface MemoryRun {
  target: "serve" | "bare";
  before?: number;
  after?: number;
  ready?: number;
  failed?: number;
  error?: string;
}

const root = new URL("..", import.meta.url).pathname;

function spawnTarget(target: MemoryRun["target"], port: number, clients: number): Child {
  if (target === "serve") return spawnServe({ clients, port, mqttPort: freePort() });
  return spawnDeno(["run", "--allow-net", `${root}bench/bare_ws_server.ts`, String(port)], {
    core: 0,
  });
}

async function measure(target: MemoryRun["target"], clients: number): Promise<MemoryRun> {
  const rec: MemoryRun = { target };
  const port = freePort();
  const server = spawnTarget(target, port, clients);
  let fleet: Child | undefined;
  try {
    await server.out.match(target === "serve" ? /serving ws:/ : /listening on/, {
      ms: 20_000,
      what: target,
    });
    await sleep(1_000);
    rec.before = procStats(server.pid).rss;
    const token = await mintToken(BENCH_SECRET, { sub: "bench", ttlSec: 3600 });
    const path = target === "serve" ? `/ws/sensors?token=${token}` : "/";
    fleet = spawnClients(port, { clients, sensors: 1, path });
    const ready = await readJson<{ ready: number; failed: number }>(fleet, /READY (\{.*\})\n/, {
      ms: 90_000,
      what: "clients connecting",
    });
    Object.assign(rec, { ready: ready.ready, failed: ready.failed });
    await sleep(2_000);
    rec.after = procStats(server.pid).rss;
  } catch (error) {
    rec.error = (error as Error).message.split("\n")[0];
  } finally {
    if (server.exit) rec.error ??= `${target} exited: ${server.err.tail(600)}`;
    await fleet?.stop(0);
    await server.stop(5_000);
  }
  return rec;
}

const perConnKiB = (r: MemoryRun) =>
  r.before !== undefined && r.after !== undefined && r.ready
    ? (r.after - r.before) / 1024 / r.ready
    : NaN;

function cell(r: MemoryRun): string {
  if (r.error) return `failed: ${r.error}`;
  const failed = r.failed ? `, ${r.failed} failed to connect` : "";
  return `${mib(r.before!)} → ${mib(r.after!)} MiB, **${perConnKiB(r).toFixed(1)} KiB** ` +
    `(${r.ready!.toLocaleString("en-US")} clients${failed})`;
}

/** Runs the memory bench; returns the exit code. */
export async function runMemory(argv: string[]): Promise<number> {
  const clients = Number(argv[argv.indexOf("--clients") + 1] || 10_000);
  const pinned = pinSelf(1);
  const began = performance.now();
  const rows: string[] = [];
  for (const run of [1, 2]) {
    const serve = await measure("serve", clients);
    const bare = await measure("bare", clients);
    const ratio = perConnKiB(serve) / perConnKiB(bare);
    rows.push(`| ${run} | ${cell(serve)} | ${cell(bare)} | ${ratio.toFixed(2)} |`);
  }
  write(
    [
      `Machine: ${machine()}.`,
      pinned
        ? "Servers pinned to core 0 (taskset -c 0), clients on core 1 (taskset -c 1)."
        : "**taskset is missing: processes were NOT pinned.**",
      `RSS per connection at ${clients.toLocaleString("en-US")} idle clients: (RSS after all ` +
      "connected and 2 s idle − RSS before the first connection) / clients.",
      "",
      "| run | serve: RSS before → after, per connection | bare Deno WebSocket server | " +
      "serve / bare |",
      "| --- | --- | --- | --- |",
      ...rows,
      "",
      `Wall time ${((performance.now() - began) / 1000).toFixed(1)} s.`,
    ].join("\n") + "\n",
  );
  return rows.some((r) => r.includes("failed:")) ? 1 : 0;
}
