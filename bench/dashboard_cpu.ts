/**
 * The dashboard's CPU in headless Chromium: 50 sensors at one reading per second each, the page
 * open on all of them with its charts full (15 minutes of history), measured over 20 s. Prints
 * the share of one core taken by the page's renderer process (from /proc, the figure the goal of
 * ≤ 10 % is about), the GPU and browser processes beside it, and the renderer main thread's
 * busy time as Chromium itself counts it (CDP `Performance.getMetrics`: TaskDuration, with its
 * Script, Layout and RecalcStyle parts).
 *
 *   deno run --allow-net --allow-env --allow-run --allow-read --allow-write --allow-sys \
 *     --ignore-read=/proc/sys/fs/binfmt_misc/WSLInterop bench/dashboard_cpu.ts [--sensors 50] [--duration 20] [--history 15]
 *
 * `serve` (embedded broker) and the publisher run in this process: what they cost is not counted,
 * only Chromium's processes are. Linux only (/proc, read through `sh`). playwright-core needs
 * `--ignore-read=/proc/sys/fs/binfmt_misc/WSLInterop` beside --allow-read (see tests/_browser.ts).
 */
import mqtt from "mqtt";
import { startServer } from "../server/server.ts";
import { generateDevSecret, mintToken } from "../server/token.ts";
import { clockStarts, PayloadSource } from "../sim/payloads.ts";
import { launchBrowser } from "../tests/_browser.ts";
import { eventually, readTiles } from "../tests/_dashboard_page.ts";
import { machine, write } from "./bench_procs.ts";

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream arch). */
const TICKS_PER_SECOND = 100;

function parseArgs(argv: string[]): { sensors: number; durationS: number; historyMin: number } {
  const out = { sensors: 50, durationS: 20, historyMin: 15 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, "");
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`bad value for ${argv[i]}`);
    if (key === "sensors") out.sensors = value;
    else if (key === "duration") out.durationS = value;
    else if (key === "history") out.historyMin = value;
    else {throw new Error(
        `usage: bench/dashboard_cpu.ts [--sensors N] [--duration S] [--history M]`,
      );}
  }
  return out;
}

/** CPU seconds (user + system) of each Chromium process under this one, by its `--type`. */
function chromiumCpu(): Map<string, number> {
  // Through `sh` (Deno asks for --allow-all to read /proc itself): per process, its stat line,
  // then its command line (NULs as spaces).
  const script = 'for p in /proc/[0-9]*; do s=$(cat "$p/stat" 2>/dev/null) || continue; ' +
    'echo "$s"; tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done';
  const out = new Deno.Command("sh", { args: ["-c", script], stderr: "null" }).outputSync();
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  const procs = new Map<number, { ppid: number; cpu: number; cmdline: string }>();
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const stat = lines[i]!;
    const pid = Number(stat.slice(0, stat.indexOf(" ")));
    // Fields after the command name, which may hold spaces: state ppid … utime(14) stime(15).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpu = (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
    procs.set(pid, { ppid: Number(rest[1]), cpu, cmdline: lines[i + 1]! });
  }
  const under = (pid: number) => {
    for (let p = procs.get(pid)?.ppid; p !== undefined && p > 1; p = procs.get(p)?.ppid) {
      if (p === Deno.pid) return true;
    }
    return false;
  };
  const byType = new Map<string, number>();
  for (const [pid, { cpu, cmdline }] of procs) {
    if (!under(pid) || !/chrom/i.test(cmdline)) continue;
    const type = /--type=(\S+)/.exec(cmdline)?.[1] ?? "browser";
    byType.set(type, (byType.get(type) ?? 0) + cpu);
  }
  return byType;
}

async function main(argv: string[]): Promise<void> {
  const { sensors: count, durationS, historyMin } = parseArgs(argv);
  const sensors = Array.from({ length: count }, (_, i) => `S${String(i + 1).padStart(2, "0")}`);
  const secret = generateDevSecret();
  await using server = await startServer({
    port: 0,
    hostname: "127.0.0.1",
    mqtt: { embeddedPort: 0 },
    auth: { secret },
    // Off so that the history burst is stored whole; at 1/s per sensor it changes nothing live.
    limits: { rateLimitMs: 0 },
  });
  const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0 });
  const gapMs = 1_000 / count; // one sensor after the other: each at 1/s, spread evenly
  const historyMs = historyMin * 60_000;
  const start = Date.now() - historyMs;
  const source = new PayloadSource({
    sensors,
    seed: 1,
    invalidRatio: 0,
    timeScale: 1,
    starts: clockStarts(start, { seeded: true, nowMs: start }),
  });
  let k = 0;
  const nextPayload = () => source.next(k, k++ * gapMs);
  write(`${machine()}\n`);
  let live = true;
  let publishing: Promise<void> | undefined;
  try {
    // The window the page will show, as history.
    let stored = 0;
    while (start + k * gapMs < Date.now()) {
      const m = nextPayload();
      client.publish(`sensors/${m.sensorId}/data`, m.payload);
      if (++stored % 1_000 === 0) await client.publishAsync("bench/flush", ""); // back-pressure
    }
    await eventually(
      () => Promise.resolve(server.metrics.readingsForwarded.value),
      (n) => n >= stored,
      30_000,
    );
    write(`history: ${stored} readings (${historyMin} min × ${count} sensors at 1/s)\n`);

    // Live: message k is due at start + k·gap, the simulator's drift-free timetable.
    publishing = (async () => {
      while (live) {
        const due = start + k * gapMs;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const m = nextPayload();
        client.publish(`sensors/${m.sensorId}/data`, m.payload);
      }
    })();

    await using browser = await launchBrowser();
    write(`chromium ${browser.browser.version()}, headless, viewport 1280×800\n`);
    const token = await mintToken(secret, { sub: "bench", ttlSec: 3_600 });
    await using probe = await browser.open(`${server.httpUrl}/#token=${token}`);
    const tiles = await eventually(
      () => readTiles(probe.page),
      (t) => Object.keys(t).length >= count,
      20_000,
    );
    write(`page shows ${Object.keys(tiles).length} tiles; settling 3 s\n`);
    await new Promise((r) => setTimeout(r, 3_000));

    const cdp = await probe.context.newCDPSession(probe.page);
    await cdp.send("Performance.enable");
    const metrics = async () =>
      Object.fromEntries(
        (await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]),
      );
    const cpu0 = chromiumCpu();
    const m0 = await metrics();
    const t0 = performance.now();
    // Slices of 5 s show whether the page has settled (a falling figure: it had not).
    let last = { cpu: cpu0.get("renderer") ?? 0, at: t0 };
    const slices: string[] = [];
    for (let left = durationS * 1_000; left > 0; left -= 5_000) {
      await new Promise((r) => setTimeout(r, Math.min(5_000, left)));
      const now = { cpu: chromiumCpu().get("renderer") ?? 0, at: performance.now() };
      slices.push(`${(100_000 * (now.cpu - last.cpu) / (now.at - last.at)).toFixed(0)} %`);
      last = now;
    }
    write(`renderer per 5 s: ${slices.join(", ")}\n`);
    const cpu1 = chromiumCpu();
    const m1 = await metrics();
    const wallS = (performance.now() - t0) / 1_000;
    live = false;
    await publishing;

    const pct = (seconds: number) => `${(100 * seconds / wallS).toFixed(1)} %`;
    write(`\n${count} sensors × 1 reading/s, ${wallS.toFixed(1)} s, share of one core:\n`);
    for (const type of [...new Set([...cpu0.keys(), ...cpu1.keys()])].sort()) {
      write(`  ${type.padEnd(16)} ${pct((cpu1.get(type) ?? 0) - (cpu0.get(type) ?? 0))}\n`);
    }
    const d = (name: string) => (m1[name] ?? 0) - (m0[name] ?? 0);
    write(
      `  renderer main thread (CDP): tasks ${pct(d("TaskDuration"))}, script ${
        pct(d("ScriptDuration"))
      }, layout ${pct(d("LayoutDuration"))}, style ${pct(d("RecalcStyleDuration"))}\n`,
    );
    const renderer = (cpu1.get("renderer") ?? 0) - (cpu0.get("renderer") ?? 0);
    const share = 100 * renderer / wallS;
    write(
      `page (renderer process): ${share.toFixed(1)} % of one core; goal ≤ 10 %: ${
        share <= 10 ? "met" : "NOT met"
      }\n`,
    );
    const problems = probe.problems();
    if (problems.length > 0) write(`page problems:\n  ${problems.join("\n  ")}\n`);
  } finally {
    live = false;
    await publishing;
    await client.endAsync();
  }
}

if (import.meta.main) await main(Deno.args);
