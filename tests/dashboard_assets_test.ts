/**
 * The dashboard's generated files are current, and what they serve keeps the page's promises: no
 * inline script or style (the CSP forbids them), nothing fetched from another origin (it works
 * air-gapped), every file it loads is served, and the first load stays within 150 KB.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  ASSETS_TS,
  assetsModuleText,
  PROTOCOL_JS,
  protocolModuleText,
} from "../scripts/dashboard_assets.ts";
import { DASHBOARD_ASSETS } from "../server/dashboard_assets.ts";

/** The first load's budget, bytes, uncompressed (Deno.serve does not compress by itself). */
const BUDGET = 150 * 1024;

const html = DASHBOARD_ASSETS["/"]!.body;
const bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("the generated files are up to date (run deno task dashboard after changing dashboard/)", async () => {
  assert.equal(await Deno.readTextFile(PROTOCOL_JS), protocolModuleText());
  // Not deepEqual on the text: a mismatch would print 130 KB.
  const committed = await Deno.readTextFile(ASSETS_TS);
  const fresh = await assetsModuleText();
  assert.ok(
    committed === fresh,
    "server/dashboard_assets.ts is out of date: run deno task dashboard",
  );
});

Deno.test("the page has no inline script, style or event handler", () => {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.ok(scripts.length > 0);
  for (const [, attributes, content] of scripts) {
    assert.match(attributes!, /\bsrc="\/[^"]+"/);
    assert.equal(content!.trim(), "");
  }
  assert.doesNotMatch(html, /<style\b/i);
  assert.doesNotMatch(html, /\sstyle\s*=/i);
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
  assert.doesNotMatch(html, /javascript:/i);
});

/** The files a first visit loads: the page, what it links, and the modules app.js imports. */
function firstLoad(): string[] {
  const paths = new Set(["/"]);
  for (const [, ref] of html.matchAll(/\b(?:src|href)="([^"]+)"/g)) paths.add(ref!);
  const queue = [...paths].filter((p) => p.endsWith(".js"));
  while (queue.length > 0) {
    const body = DASHBOARD_ASSETS[queue.pop()!]?.body ?? "";
    for (const [, spec] of body.matchAll(/\bimport\b[^"';]*?["']\.\/([^"']+)["']/g)) {
      const path = `/${spec}`;
      if (!paths.has(path)) queue.push(path), paths.add(path);
    }
  }
  return [...paths].sort();
}

Deno.test("everything the page loads is served, from its own origin", () => {
  const load = firstLoad();
  for (const path of load) {
    assert.ok(Object.hasOwn(DASHBOARD_ASSETS, path), `${path} is not served`);
  }
  for (
    const expected of ["/app.js", "/uplot.min.js", "/uplot.min.css", "/style.css", "/favicon.svg"]
  ) {
    assert.ok(load.includes(expected), expected);
  }
  assert.ok(Object.hasOwn(DASHBOARD_ASSETS, "/favicon.ico"), "the browser's own favicon request");
});

Deno.test("no file refers to another origin", () => {
  for (const [path, { body }] of Object.entries(DASHBOARD_ASSETS)) {
    // uPlot's banner names its home page (a comment, never fetched); SVG names its namespace.
    const text = body.replace(/\/\*![\s\S]*?\*\//g, "").replaceAll(
      "http://www.w3.org/2000/svg",
      "",
    );
    assert.deepEqual(text.match(/\b(?:https?|wss?):\/\/[^\s"'`)]*/gi) ?? [], [], path);
    assert.doesNotMatch(text, /\b(?:src|href)=["']\/\//i, `${path}: protocol-relative URL`);
    if (path.endsWith(".css")) {
      assert.doesNotMatch(text, /@import|url\(\s*["']?(?!data:)/i, `${path}: CSS fetches`);
    }
  }
});

Deno.test("the first load stays within 150 KB", () => {
  const load = firstLoad();
  const raw = load.reduce((sum, path) => sum + bytes(DASHBOARD_ASSETS[path]!.body), 0);
  const gzip = load.reduce((sum, path) => sum + gzipSync(DASHBOARD_ASSETS[path]!.body).length, 0);
  assert.ok(raw <= BUDGET, `first load is ${raw} bytes, over ${BUDGET}`);
  assert.ok(gzip < raw / 2, `gzip ${gzip} of ${raw}`);
});
