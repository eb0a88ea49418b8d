/** Running `main.ts` as a user does, in a subprocess. */
import { within } from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMS = ["--allow-net", "--allow-env"];

/** Env for child processes: only what Deno needs, so the tester's own settings do not leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR"];
  // No drain before a signalled stop (tests of the drain set it): every stop would take 2 s more.
  const env: Record<string, string> = { NO_COLOR: "1", DRAIN_DELAY_SECONDS: "0" };
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs `main.ts args` to completion (bounded) and returns exit code and output. */
export async function runMain(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; permissions?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, ...options.permissions ?? [], MAIN, ...args],
    env: cleanEnv(options.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A long-running `main.ts` subprocess whose output is collected as it comes. */
export class MainProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<void>;

  /** Runs `main.ts args`; `permissions` are Deno flags beyond the tasks' net and env. */
  constructor(args: string[], env: Record<string, string> = {}, permissions: string[] = []) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMS, ...permissions, MAIN, ...args],
      env: cleanEnv(env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this[key] += chunk;
    };
    this.#done = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]).then(() => {});
  }

  /** Waits until stdout matches `pattern`; returns the match. */
  async waitForOutput(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    while (true) {
      const m = this.stdout.match(pattern);
      if (m) return m;
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} in output:\n${this.stdout}\n--- stderr ---\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends a signal and waits (bounded) for the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM", ms = 8_000): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    const status = await within(ms, this.child.status, "process exit");
    await this.#done;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await this.child.status;
    await this.#done;
  }
}
