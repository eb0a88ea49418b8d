/** Each command's options are declared once, in its table, and the README's table matches serve's. */
import assert from "node:assert/strict";
import { buildProgram } from "../cli/mod.ts";
import { DEMO_OPTIONS } from "../cli/options/demo.ts";
import { SERVE_OPTIONS } from "../cli/options/serve.ts";
import { SIMULATE_OPTIONS } from "../cli/options/simulate.ts";
import { TAIL_OPTIONS } from "../cli/options/tail.ts";
import { TOKEN_OPTIONS } from "../cli/options/token.ts";
import { optionName, type OptionTable } from "../cli/options/table.ts";

const TABLES: Record<string, OptionTable> = {
  serve: SERVE_OPTIONS,
  demo: DEMO_OPTIONS,
  simulate: SIMULATE_OPTIONS,
  tail: TAIL_OPTIONS,
  token: TOKEN_OPTIONS,
};
const ROOT = new URL("../", import.meta.url);

async function sourceFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        files.set(path, await Deno.readTextFile(new URL(path, ROOT)));
      }
    }
  };
  for (const dir of ["cli", "server", "sim", "tail", "lib", "protocol"]) await walk(dir);
  return files;
}

Deno.test("every command's commander options are exactly its table's", () => {
  const io = {
    stdout() {},
    stderr() {},
    env: () => undefined,
    isTerminal: false,
    columns: undefined,
    signal: new AbortController().signal,
  };
  const program = buildProgram({ io, exitCode: 0 });
  for (const [name, table] of Object.entries(TABLES)) {
    const cmd = program.commands.find((c) => c.name() === name)!;
    const flags = cmd.options.map((o) => o.flags).sort();
    assert.deepEqual(flags, Object.values(table).map((s) => s.flags).sort(), name);
  }
});

/**
 * Flags that name two different options of two commands, as the issue that asked for them did:
 * `serve --history` is seconds kept, `tail --history` readings asked for. Nothing else may repeat.
 */
const DISTINCT = new Map([["--history", ["cli/options/serve.ts", "cli/options/tail.ts"]]]);

Deno.test("a flag or variable name is declared in one source file, and options only in tables", async () => {
  const files = await sourceFiles();
  const declared = new Map<string, Set<string>>();
  for (const [path, text] of files) {
    for (const m of text.matchAll(/(?:flags|env):\s*"(--?[\w-]+|[A-Z][A-Z0-9_]+)/g)) {
      if (!declared.has(m[1]!)) declared.set(m[1]!, new Set());
      declared.get(m[1]!)!.add(path);
    }
    for (const m of text.matchAll(/\b[A-Z_]+_ENV = "([A-Z][A-Z0-9_]+)"/g)) {
      if (!declared.has(m[1]!)) declared.set(m[1]!, new Set());
      declared.get(m[1]!)!.add(path);
    }
    if (!path.startsWith("cli/options/")) {
      assert.doesNotMatch(text, /new Option\(|\.option\(|\)\s*\.env\(|io\.env\("[A-Z]/, path);
    }
  }
  for (const [name, paths] of declared) {
    if (DISTINCT.has(name)) {
      assert.deepEqual([...paths].sort(), DISTINCT.get(name), name);
      continue;
    }
    assert.equal(paths.size, 1, `${name} in ${[...paths]}`);
  }
});

Deno.test("the README's configuration table lists every serve option and its default", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const table = readme.slice(
    readme.indexOf("| Flag "),
    readme.indexOf("\n\n", readme.indexOf("| Flag ")),
  );
  const rows = table.split("\n").slice(2).map((l) => l.split("|").map((c) => c.trim()));
  const documented = new Map(rows.map((r) => [r[1]!.replace(/`/g, ""), r[2]!.replace(/`/g, "")]));
  for (const spec of Object.values(SERVE_OPTIONS)) {
    const flag = /--[\w-]+/.exec(spec.flags)![0];
    assert.equal(documented.get(flag), spec.env, `${optionName(spec)} in the README`);
  }
  assert.equal(documented.size, Object.keys(SERVE_OPTIONS).length, "no row for a removed option");
});
