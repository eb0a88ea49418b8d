/**
 * The dashboard's static files: `GET /` and its assets, from the map generated into
 * `dashboard_assets.ts` (so the compiled binary carries them and nothing is read from disk).
 * Each response carries an ETag (a matching `If-None-Match` gets a 304), `Cache-Control: no-cache`
 * (the browser revalidates, so the page and its modules never mix versions after an upgrade),
 * gzip when the client accepts it (Deno.serve does not compress by itself), and the security
 * headers: a Content-Security-Policy without inline script or style, `nosniff`, no referrer.
 * @module
 */
import { gzipSync } from "node:zlib";
import { DASHBOARD_ASSETS, type DashboardAsset } from "./dashboard_assets.ts";

/**
 * A Host header the CSP may repeat: a DNS name, an IPv4 address or a bracketed IPv6 address,
 * with an optional port. Anything else (a header crafted to inject CSP tokens) is left out.
 */
const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** Bodies smaller than this are sent as they are: gzip would not pay for its header. */
const GZIP_MIN_BYTES = 1_024;

/**
 * The page's Content-Security-Policy: its own scripts and styles only (no inline ones), no
 * plugins, frames, forms or base URL, and WebSockets to the host the page was loaded from.
 * `connect-src 'self'` covers ws:/wss: of the same host in current browsers; older ones need
 * them named, which is done when `host` is a well-formed host[:port].
 */
export function contentSecurityPolicy(host: string | null): string {
  const sockets = host !== null && host.length <= 261 && HOST_PATTERN.test(host)
    ? ` ws://${host.toLowerCase()} wss://${host.toLowerCase()}`
    : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The response for a dashboard path, or `undefined` when `url` is not one of its files.
 * GET and HEAD only (else 405).
 */
export function dashboardResponse(req: Request, url: URL): Response | undefined {
  if (!Object.hasOwn(DASHBOARD_ASSETS, url.pathname)) return undefined;
  const asset = DASHBOARD_ASSETS[url.pathname]!;
  const headers = new Headers({
    "content-security-policy": contentSecurityPolicy(req.headers.get("host")),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  });
  if (req.method !== "GET" && req.method !== "HEAD") {
    headers.set("allow", "GET, HEAD");
    headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(`Method ${req.method} not allowed: use GET.\n`, { status: 405, headers });
  }
  const gzip = compressible(asset) && acceptsGzip(req.headers.get("accept-encoding"));
  headers.set("content-type", asset.type);
  headers.set("cache-control", "no-cache");
  headers.set("vary", "Accept-Encoding");
  // Each encoding is its own representation, with its own (strong) tag.
  headers.set("etag", `"${asset.etag}${gzip ? "-gz" : ""}"`);
  if (matches(req.headers.get("if-none-match"), asset.etag)) {
    return new Response(null, { status: 304, headers });
  }
  if (gzip) headers.set("content-encoding", "gzip");
  const body = gzip ? gzipped(asset) : asset.body;
  return new Response(req.method === "HEAD" ? null : body, { headers });
}

/** Whether an `If-None-Match` header names this asset (in any encoding, weak or strong). */
function matches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((part) => {
    const tag = part.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
    return tag === "*" || tag === etag || tag === `${etag}-gz`;
  });
}

/** Whether `Accept-Encoding` takes gzip (a `q=0` refuses it). */
export function acceptsGzip(header: string | null): boolean {
  if (header === null) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";").map((s) => s.trim());
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function compressible(asset: DashboardAsset): boolean {
  return asset.body.length >= GZIP_MIN_BYTES;
}

/** Compressed bodies, made on first use (a few ms once per file) and kept. */
const compressed = new Map<DashboardAsset, Uint8Array<ArrayBuffer>>();

function gzipped(asset: DashboardAsset): Uint8Array<ArrayBuffer> {
  let body = compressed.get(asset);
  if (body === undefined) {
    body = Uint8Array.from(gzipSync(asset.body, { level: 9 }));
    compressed.set(asset, body);
  }
  return body;
}
