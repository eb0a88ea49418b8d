/**
 * The layout shows the architecture: dependencies point one way,
 * main.ts -> cli/ -> {server/, sim/, tail/} -> {protocol/, lib/}, and only main.ts imports cli/.
 * This reads every import of the source folders and fails on an edge against that direction.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const FOLDERS = ["cli", "server", "sim", "tail", "protocol", "lib"] as const;
type Part = typeof FOLDERS[number] | "main.ts";

/** What each part may import (besides itself and npm/node packages). */
const ALLOWED: Record<Part, readonly Part[]> = {
  "main.ts": ["cli"],
  cli: ["server", "sim", "tail", "protocol", "lib"],
  server: ["protocol", "lib"],
  sim: ["protocol", "lib"],
  tail: ["protocol", "lib"],
  protocol: [],
  lib: [],
};

async function sources(): Promise<string[]> {
  const files = ["main.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const folder of FOLDERS) await walk(folder);
  return files;
}

function partOf(path: string): Part | undefined {
  if (path === "main.ts") return "main.ts";
  const top = path.split("/")[0];
  return (FOLDERS as readonly string[]).includes(top!) ? top as Part : undefined;
}

/** Relative import specifiers of a source text (static, dynamic, type and re-exports). */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of text.matchAll(pattern)) found.push(m[1]!);
  return found;
}

Deno.test("imports point one way: main -> cli -> server/sim/tail -> protocol/lib", async () => {
  const violations: string[] = [];
  for (const file of await sources()) {
    const from = partOf(file)!;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (const spec of importsOf(text)) {
      const target = new URL(spec, new URL(file, ROOT)).pathname.slice(ROOT.pathname.length);
      const to = partOf(target);
      if (to === undefined) {
        violations.push(`${file} imports ${target}, outside the source folders`);
      } else if (to !== from && !ALLOWED[from].includes(to)) {
        violations.push(`${file} (${from}) imports ${target} (${to})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("the import check sees every kind of import it must", () => {
  const text = `import { a } from "../server/x.ts";\nexport * from "./y.ts";\n` +
    `import type { B } from '../lib/z.ts';\nconst m = await import("../cli/w.ts");\n` +
    `import "./side_effect.ts";\nimport mqtt from "mqtt";`;
  assert.deepEqual(importsOf(text), [
    "../server/x.ts",
    "./y.ts",
    "../lib/z.ts",
    "../cli/w.ts",
    "./side_effect.ts",
  ]);
});
