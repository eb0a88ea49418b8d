/**
 * Child processes for the overload and memory benches: spawned pinned to a core (`taskset`),
 * their output read with deadlines, their CPU and memory read from /proc, and killed on the way
 * out, even on Ctrl-C. Every wait here has a timeout, so a dead server fails the run instead of
 * hanging it.
 * @module
 */

/** Milliseconds, as a promise. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes `text` to stdout. */
export const write = (text: string): void => {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
};

/** A free loopback TCP port. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** A process's CPU seconds (user + system), RSS and peak RSS in bytes; NaN once it is gone. */
export interface ProcStats {
  cpu: number;
  rss: number;
  peakRss: number;
}

/** Reads `/proc/<pid>` through `cat` (Deno asks for --allow-all to read /proc itself). */
export function procStats(pid: number): ProcStats {
  const read = (path: string) => {
    const out = new Deno.Command("cat", { args: [path], stderr: "null" }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : "";
  };
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (stat === "" || status === "") return { cpu: NaN, rss: NaN, peakRss: NaN };
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return {
    cpu: (Number(fields[11]) + Number(fields[12])) / 100,
    rss: kib("VmRSS") * 1024,
    peakRss: kib("VmHWM") * 1024,
  };
}

/** Busy CPU seconds of each core, and CPU seconds of processes not ours, since a start. */
export interface CpuTimes {
  cores: number[];
  others: number;
}

/**
 * The machine's CPU, from /proc/stat and every /proc/<pid>/stat (read by one `sh`): busy time
 * per core, and the CPU of user processes other than `ours` and their children. A process seen
 * for the first time counts whole (it started since the last read); one that exited in between
 * loses what it used since then, so "others" is a lower bound.
 */
export class MachineCpu {
  readonly #ours: readonly number[];
  #last = new Map<number, number>();
  #others = 0;

  /** Starts counting; `ours` are the bench's own processes. */
  constructor(ours: readonly number[]) {
    this.#ours = ours;
    this.#last = this.#scan().procs;
  }

  /** Cumulative figures now. */
  read(): CpuTimes {
    const { cores, procs } = this.#scan();
    for (const [pid, cpu] of procs) this.#others += Math.max(0, cpu - (this.#last.get(pid) ?? 0));
    this.#last = procs;
    return { cores, others: this.#others };
  }

  #scan(): { cores: number[]; procs: Map<number, number> } {
    const script = "cat /proc/stat; cat /proc/[0-9]*/stat 2>/dev/null";
    const out = new Deno.Command("sh", { args: ["-c", script], stderr: "null" }).outputSync();
    const cores: number[] = [];
    const procs = new Map<number, number>();
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      if (/^cpu\d/.test(line)) {
        const t = line.split(/\s+/).slice(1).map(Number);
        // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
        cores.push([0, 1, 2, 5, 6, 7].reduce((a, i) => a + (t[i] ?? 0), 0) / 100);
      } else if (/^\d+ \(/.test(line)) {
        const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
        const pid = Number(line.slice(0, line.indexOf(" ")));
        const ppid = Number(f[1]);
        const skip = pid === 2 || ppid === 2 || [pid, ppid].some((p) => this.#ours.includes(p));
        if (!skip) procs.set(pid, (Number(f[11]) + Number(f[12])) / 100);
      }
    }
    return { cores, procs };
  }
}

/**
 * Percent of one core that other processes used over `ms`: the bench shares the machine, and a
 * build or test running beside it skews every figure.
 */
export async function otherLoad(ms: number): Promise<number> {
  const cpu = new MachineCpu([Deno.pid]);
  const [a, t0] = [cpu.read(), performance.now()];
  await sleep(ms);
  const [b, t1] = [cpu.read(), performance.now()];
  return (100 * (b.others - a.others)) / ((t1 - t0) / 1000);
}

/** Text a child writes, kept (bounded) and searchable with a deadline. */
export class Output {
  #text = "";
  #ended = false;
  #wake: () => void = () => {};

  /** Starts draining `stream`, so the child never blocks on a full pipe. */
  constructor(stream: ReadableStream<Uint8Array>) {
    void this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        if (this.#text.length > 1_000_000) this.#text = this.#text.slice(-100_000);
        this.#wake();
      }
    } catch { /* the process went away */ }
    this.#ended = true;
    this.#wake();
  }

  /** The last `chars` of what was not consumed by {@link Output.match}. */
  tail(chars = 1_500): string {
    return this.#text.slice(-chars);
  }

  /** Waits (at most `ms`) for `pattern`; consumes the text up to the match. */
  async match(pattern: RegExp, wait: { ms: number; what: string }): Promise<RegExpExecArray> {
    const { ms, what } = wait;
    const deadline = Date.now() + ms;
    while (true) {
      const m = pattern.exec(this.#text);
      if (m) {
        this.#text = this.#text.slice(m.index + m[0].length);
        return m;
      }
      const left = deadline - Date.now();
      const why = this.#ended ? "exited" : left <= 0 ? `timed out after ${ms} ms` : "";
      if (why) throw new Error(`${what}: ${why} before printing ${pattern}:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** A spawned child with its output drained. */
export interface Child {
  readonly pid: number;
  readonly out: Output;
  readonly err: Output;
  /** Set once it exited, with how. */
  exit: Deno.CommandStatus | null;
  /** Writes one line to its stdin. */
  send(line: string): Promise<void>;
  /** SIGTERM (SIGKILL after `graceMs`, or at once when 0); resolves when it is gone. */
  stop(graceMs: number): Promise<Deno.CommandStatus>;
}

let tasksetOk: boolean | undefined;

/** Whether `taskset` can pin a process here. */
export function canPin(): boolean {
  tasksetOk ??= (() => {
    try {
      return new Deno.Command("taskset", { args: ["-c", "0", "true"] }).outputSync().success;
    } catch {
      return false;
    }
  })();
  return tasksetOk;
}

/** Pins this process (all its threads) to `core`; false when taskset is missing. */
export function pinSelf(core: number): boolean {
  if (!canPin()) return false;
  const args = ["-a", "-c", "-p", String(core), String(Deno.pid)];
  return new Deno.Command("taskset", { args, stdout: "null" }).outputSync().success;
}

const live = new Set<Deno.ChildProcess>();
const onInterrupt = () => {
  for (const p of live) p.kill("SIGKILL");
  Deno.exit(130);
};

/** Spawns `deno <args>` pinned to `core` when taskset works; its stdin piped. */
export function spawnDeno(
  args: string[],
  options: { core: number; env?: Record<string, string> },
): Child {
  const pin = canPin() ? ["-c", String(options.core), Deno.execPath()] : [];
  const proc = new Deno.Command(pin.length > 0 ? "taskset" : Deno.execPath(), {
    args: [...pin, ...args],
    env: options.env ?? {},
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (live.size === 0) {
    Deno.addSignalListener("SIGINT", onInterrupt);
    Deno.addSignalListener("SIGTERM", onInterrupt);
  }
  live.add(proc);
  const stdin = proc.stdin.getWriter();
  const status = proc.status.then((s) => (child.exit = s));
  const child: Child = {
    pid: proc.pid,
    out: new Output(proc.stdout),
    err: new Output(proc.stderr),
    exit: null,
    // A child that died reads nothing: the caller finds out when its answer times out.
    send: (line) => stdin.write(new TextEncoder().encode(line + "\n")).catch(() => {}),
    stop: (graceMs) => stop(proc, status, graceMs),
  };
  return child;
}

async function stop(
  proc: Deno.ChildProcess,
  status: Promise<Deno.CommandStatus>,
  graceMs: number,
): Promise<Deno.CommandStatus> {
  const kill = (signal: Deno.Signal) => {
    try {
      proc.kill(signal);
    } catch { /* already gone */ }
  };
  kill(graceMs > 0 ? "SIGTERM" : "SIGKILL");
  const timer = setTimeout(() => kill("SIGKILL"), graceMs);
  const s = await status;
  clearTimeout(timer);
  live.delete(proc);
  if (live.size === 0) {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
  return s;
}

/** Cores, CPU model, memory, OS and Deno version, for the report. */
export function machine(): string {
  const cpuinfo = new TextDecoder().decode(
    new Deno.Command("cat", { args: ["/proc/cpuinfo"] }).outputSync().stdout,
  );
  const field = (key: string) => new RegExp(`^${key}\\s*:\\s*(.*)$`, "m").exec(cpuinfo)?.[1];
  const model = `${field("model name") ?? "unknown CPU"} (family ${field("cpu family")}, ` +
    `model ${field("model")}${/\bhypervisor\b/.test(field("flags") ?? "") ? ", virtual" : ""})`;
  const gib = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
  return `${navigator.hardwareConcurrency} cores, ${model}, ${gib} GiB RAM, ` +
    `Linux ${Deno.osRelease()}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}

/** `bytes` in MiB, rounded. */
export const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);
