/** Serving the dashboard: a function from Request to Response, tested without a socket. */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { acceptsGzip, contentSecurityPolicy, dashboardResponse } from "../server/dashboard.ts";
import { DASHBOARD_ASSETS } from "../server/dashboard_assets.ts";

function get(
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Response | undefined {
  const url = new URL(path, "http://127.0.0.1:8000");
  return dashboardResponse(
    new Request(url, { method, headers: { host: "127.0.0.1:8000", ...headers } }),
    url,
  );
}

Deno.test("GET / is the page, with its security headers", async () => {
  const res = get("/")!;
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-cache");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.equal(
    res.headers.get("content-security-policy"),
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
      "connect-src 'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000; base-uri 'none'; " +
      "form-action 'none'; frame-ancestors 'none'",
  );
  assert.match(await res.text(), /^<!doctype html>/);
});

Deno.test("every asset is served with its type, ETag and the same headers", async () => {
  for (const [path, asset] of Object.entries(DASHBOARD_ASSETS)) {
    const res = get(path)!;
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), asset.type, path);
    assert.equal(res.headers.get("etag"), `"${asset.etag}"`, path);
    assert.ok(res.headers.get("content-security-policy"), path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(await res.text(), asset.body, path);
  }
  assert.equal(get("/favicon.ico")!.headers.get("content-type"), "image/svg+xml");
  assert.equal(get("/app.js")!.headers.get("content-type"), "text/javascript; charset=utf-8");
});

Deno.test("paths that are not the dashboard's are left to the other routes", () => {
  for (
    const path of ["/ws/sensors", "/metrics", "/healthz", "/nope.js", "/index.html", "/__proto__"]
  ) {
    assert.equal(get(path), undefined, path);
  }
});

Deno.test("If-None-Match with the current ETag gets a 304 without a body", async (t) => {
  const { etag } = DASHBOARD_ASSETS["/app.js"]!;
  for (const header of [`"${etag}"`, `W/"${etag}"`, `"old", "${etag}-gz"`, "*"]) {
    await t.step(header, async () => {
      const res = get("/app.js", { "if-none-match": header })!;
      assert.equal(res.status, 304);
      assert.equal(res.headers.get("etag"), `"${etag}"`);
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.ok(res.headers.get("content-security-policy"));
      assert.equal(await res.text(), "");
    });
  }
  assert.equal(get("/app.js", { "if-none-match": '"old"' })!.status, 200);
});

Deno.test("gzip when the client takes it (Deno.serve does not compress by itself)", async () => {
  const asset = DASHBOARD_ASSETS["/uplot.min.js"]!;
  const res = get("/uplot.min.js", { "accept-encoding": "gzip, deflate, br" })!;
  assert.equal(res.headers.get("content-encoding"), "gzip");
  assert.equal(res.headers.get("vary"), "Accept-Encoding");
  assert.equal(res.headers.get("etag"), `"${asset.etag}-gz"`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.ok(bytes.length < asset.body.length / 2);
  assert.equal(new TextDecoder().decode(gunzipSync(bytes)), asset.body);
  const small = get("/favicon.svg", { "accept-encoding": "gzip" })!;
  assert.equal(small.headers.get("content-encoding"), null, "too small to pay");
  assert.deepEqual(
    ["gzip", "GZIP;q=0.5", "br, *", "gzip;q=0", "br", "identity", null].map(acceptsGzip),
    [true, true, true, false, false, false, false],
  );
});

Deno.test("HEAD has the headers without the body; other methods get 405", async () => {
  const head = get("/", {}, "HEAD")!;
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await head.text(), "");
  const post = get("/", {}, "POST")!;
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("the CSP names the host only when it is a plain host[:port]", () => {
  const connect = (host: string | null) =>
    /connect-src ([^;]*)/.exec(contentSecurityPolicy(host))![1];
  assert.equal(
    connect("Sensors.example.com"),
    "'self' ws://sensors.example.com wss://sensors.example.com",
  );
  assert.equal(connect("[::1]:8000"), "'self' ws://[::1]:8000 wss://[::1]:8000");
  assert.equal(connect("10.0.0.7:80"), "'self' ws://10.0.0.7:80 wss://10.0.0.7:80");
  for (
    const bad of [
      null,
      "",
      "evil.com; script-src *",
      "a b",
      "x:1:2",
      "-bad.com",
      "h:123456",
      "é.com",
    ]
  ) {
    assert.equal(connect(bad), "'self'", String(bad));
  }
});
