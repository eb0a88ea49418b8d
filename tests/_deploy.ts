/**
 * What the deploy/ tests share: the files, the set of variables serve really reads, the promises
 * the README makes (the drain time, which values are secrets), and running the real tools.
 */
import assert from "node:assert/strict";
import { SERVE_OPTIONS } from "../cli/options/serve.ts";
import { COMPILE_PERMISSIONS } from "../scripts/compile.ts";

const ROOT = new URL("../", import.meta.url);

/** The text of `deploy/<name>`. */
export const deployFile = (name: string): Promise<string> =>
  Deno.readTextFile(new URL(`deploy/${name}`, ROOT));

/** The text of `path`, relative to the repository root. */
export const repoFile = (path: string): Promise<string> => Deno.readTextFile(new URL(path, ROOT));

/** What the README promises of SIGTERM: serve drains and exits 0 within this many seconds. */
export const SHUTDOWN_SECONDS = 5;
/** Variables whose value is a secret: never in a unit, an env file, an image or a ConfigMap. */
export const SECRET_VALUES = ["JWT_SECRET", "MQTT_PASSWORD"];

/** Every variable serve reads, from its option table, each also in the README's table. */
export async function serveVariables(): Promise<Set<string>> {
  const readme = await repoFile("README.md");
  const start = readme.indexOf("| Flag ");
  const table = readme.slice(start, readme.indexOf("\n\n", start));
  const documented = new Set([...table.matchAll(/^\|[^|]*\|\s*`(\w+)`/gm)].map((m) => m[1]!));
  const vars = new Set(Object.values(SERVE_OPTIONS).flatMap((o) => o.env ? [o.env] : []));
  for (const v of vars) assert.ok(documented.has(v), `${v} in README "Configuration"`);
  return vars;
}

/** Fails on the first of `names` that serve does not read (`where` names the file). */
export function assertServeVariables(
  names: Iterable<string>,
  vars: Set<string>,
  where: string,
): void {
  for (const name of names) {
    assert.ok(vars.has(name), `${where} sets ${name}, which serve does not read`);
  }
}

/** Whether the compiled binary (its baked-in `--allow-read`) may read `path`. */
export function binaryMayRead(path: string): boolean {
  const flag = COMPILE_PERMISSIONS.find((p) => p.startsWith("--allow-read="));
  const dirs = flag?.slice("--allow-read=".length).split(",") ?? [];
  return dirs.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/** An executable on PATH or in /usr/sbin and /sbin (Debian's nginx), or undefined. */
export function tool(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const dir of dirs.filter(Boolean)) {
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && (info.mode ?? 0) & 0o111) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Runs `cmd` to completion: exit code, and stdout and stderr together. */
export async function run(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

/** Polls the async `check` every 50 ms until it holds, for at most `ms`. */
export async function eventually(
  check: () => Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `text` with each `[from, to]` replaced; fails when one is missing, so no check goes stale. */
export function rewrite(text: string, pairs: Array<[string | RegExp, string]>): string {
  for (const [from, to] of pairs) {
    const found = typeof from === "string" ? text.includes(from) : from.test(text);
    assert.ok(found, `expected ${from} in the file`);
    text = typeof from === "string" ? text.replaceAll(from, to) : text.replace(from, to);
  }
  return text;
}

/** Seconds of a systemd (`15s`, `1min`, `15`) or nginx (`1h`, `90s`) time span. */
export function seconds(span: string): number {
  const units: Record<string, number> = { "": 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  const m = /^(\d+)\s*([a-z]*)$/.exec(span.trim());
  assert.ok(m && units[m[2]!] !== undefined, `a time span: '${span}'`);
  return Number(m[1]) * units[m[2]!]!;
}
