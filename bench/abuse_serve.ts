/**
 * The `serve` process under test in the abuse suite: spawned exactly as a user runs it, its
 * banner parsed for the URLs, `/metrics` scraped, its descriptors counted, its stderr kept.
 * @module
 */

/** Environment and flags `serve` runs with. */
export interface ServeSpec {
  env: Record<string, string>;
  /** Flags after `serve`. */
  flags: string[];
}

/** Counters and gauges from one `/metrics` scrape, keyed by series (`name{labels}`). */
export type MetricSample = Map<string, number>;

/** What the suite sees of the process. */
export interface ServeProcess {
  readonly pid: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  /** The command line, as a user would type it. */
  readonly commandLine: string;
  /** False once the process has exited. */
  readonly alive: boolean;
  /** Scrapes `/metrics`. */
  metrics(): Promise<MetricSample>;
  /** Open file descriptors, and how many of them are sockets (from /proc). */
  fds(): { total: number; sockets: number };
  /** Lines it wrote to stderr. */
  readonly stderr: readonly string[];
  /** SIGTERM, then waits (SIGKILL after `graceMs`); its exit code and how long it took. */
  stop(graceMs?: number): Promise<{ code: number; signal: string | null; ms: number }>;
}

const root = new URL("..", import.meta.url).pathname;
/** Most stderr lines kept. */
const MAX_STDERR_LINES = 2_000;

/** Spawns `serve` and waits (at most 30 s) for its banner. */
export async function spawnServe(spec: ServeSpec): Promise<ServeProcess> {
  const args = ["run", "--allow-net", "--allow-env", "main.ts", "serve", ...spec.flags];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env: spec.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let alive = true;
  const status = child.status.finally(() => alive = false);
  const stderr: string[] = [];
  void collectLines(child.stderr, (line) => {
    if (stderr.length < MAX_STDERR_LINES) stderr.push(line);
  });
  const banner = await readBanner(child.stdout, status);
  const http = banner.wsUrl.replace(/^ws:/, "http:").replace(/\/ws\/sensors$/, "");
  const env = Object.entries(spec.env).map(([k, v]) => `${k}=${/SECRET/.test(k) ? "…" : v}`)
    .join(" ");
  return {
    pid: child.pid,
    ...banner,
    httpUrl: http,
    commandLine: `${env} deno ${args.join(" ")}`,
    get alive() {
      return alive;
    },
    stderr,
    metrics: () => scrape(`${http}/metrics`),
    fds: () => countFds(child.pid),
    async stop(graceMs = 10_000) {
      const started = performance.now();
      if (alive) child.kill("SIGTERM");
      const timer = setTimeout(() => alive && child.kill("SIGKILL"), graceMs);
      const s = await status;
      clearTimeout(timer);
      return { code: s.code, signal: s.signal, ms: Math.round(performance.now() - started) };
    },
  };
}

/** Reads stdout until both banner lines are seen, then keeps draining it. */
async function readBanner(
  stdout: ReadableStream<Uint8Array>,
  exited: Promise<Deno.CommandStatus>,
): Promise<{ wsUrl: string; mqttUrl: string }> {
  let seen = "";
  let resolve!: (v: { wsUrl: string; mqttUrl: string }) => void;
  const found = new Promise<{ wsUrl: string; mqttUrl: string }>((r) => resolve = r);
  void collectLines(stdout, (line) => {
    seen += line + "\n";
    const ws = /serving (ws:\/\/\S+)/.exec(seen)?.[1];
    const mqtt = /MQTT broker: (mqtt:\/\/\S+)/.exec(seen)?.[1];
    if (ws && mqtt) resolve({ wsUrl: ws, mqttUrl: mqtt });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = Promise.race([
    exited.then((s) => `serve exited with code ${s.code} before its banner`),
    new Promise<string>((r) => timer = setTimeout(() => r("no banner within 30 s"), 30_000)),
  ]).then((why) => Promise.reject(new Error(`${why}; stdout so far:\n${seen}`)));
  failed.catch(() => {});
  try {
    return await Promise.race([found, failed]);
  } finally {
    clearTimeout(timer);
  }
}

async function collectLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      lines.forEach(onLine);
    }
  } catch { /* the process went away */ }
  if (rest) onLine(rest);
}

/** Parses Prometheus text: every sample line into `series -> value`. */
export function parseMetrics(text: string): MetricSample {
  const out: MetricSample = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<MetricSample> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** `/proc/<pid>/fd` through `ls` (Deno asks for --allow-all to read /proc itself). */
function countFds(pid: number): { total: number; sockets: number } {
  const out = new Deno.Command("ls", { args: ["-l", `/proc/${pid}/fd`] }).outputSync();
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.includes(" -> "));
  return { total: lines.length, sockets: lines.filter((l) => l.includes("socket:")).length };
}

/** The value of `series` (0 when absent). */
export function metric(sample: MetricSample, series: string): number {
  return sample.get(series) ?? 0;
}

/** `after - before` for every series whose name starts with `prefix{`, keyed by label value. */
export function labeledDelta(
  before: MetricSample,
  after: MetricSample,
  name: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [series, value] of after) {
    const m = new RegExp(`^${name}\\{\\w+="(.*)"\\}$`).exec(series);
    if (!m) continue;
    const delta = value - (before.get(series) ?? 0);
    if (delta !== 0) out.set(m[1]!, delta);
  }
  return out;
}

/** Polls `/metrics` until `done(sample)` holds or `ms` pass; returns the last sample. */
export async function settle(
  serve: ServeProcess,
  done: (sample: MetricSample) => boolean,
  ms: number,
): Promise<{ sample: MetricSample; settled: boolean; ms: number }> {
  const started = performance.now();
  while (true) {
    const sample = await serve.metrics();
    const elapsed = Math.round(performance.now() - started);
    if (done(sample)) return { sample, settled: true, ms: elapsed };
    if (elapsed > ms) return { sample, settled: false, ms: elapsed };
    await new Promise((r) => setTimeout(r, 100));
  }
}
