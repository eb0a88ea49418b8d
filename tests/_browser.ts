/**
 * A real browser for the dashboard's tests: find Chromium, launch it headless through
 * playwright-core, and open pages that record what went wrong (console errors and warnings,
 * uncaught errors, failed requests) and every request, blocking each one that leaves the page's
 * origin. A missing Chromium fails the test that needs it, with what to install: a skipped
 * browser test would pass CI without ever having opened the page.
 * @module
 */
import type { Browser, BrowserContext, BrowserType, ConsoleMessage, Page } from "playwright-core";

/** Where Chromium is looked for when `CHROMIUM_PATH` is unset (Debian's, then Ubuntu's name). */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
];

/**
 * Flags besides playwright's own (which adds `--headless`, the new headless mode in Chromium
 * 132 and later, `--no-sandbox` and a fresh `--user-data-dir` of its own per launch, removed on
 * close). No GPU, no QUIC, and nothing that phones home: the test machine may have no network,
 * and a request the page did not make must not show up in its record.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * The Chromium to drive: `CHROMIUM_PATH`, else the first of {@link CHROMIUM_CANDIDATES} that
 * exists. Throws, saying what to install, when there is none.
 */
export function findChromium(
  env: string | undefined = Deno.env.get("CHROMIUM_PATH"),
  candidates: readonly string[] = CHROMIUM_CANDIDATES,
): string {
  if (env) {
    if (isFile(env)) return env;
    throw new Error(
      `CHROMIUM_PATH=${env} is not a file: point it at a Chromium or Chrome executable, ` +
        "or unset it to use /usr/bin/chromium",
    );
  }
  const found = candidates.find(isFile);
  if (found) return found;
  const looked = candidates.length > 0 ? candidates.join(", ") : "no paths";
  throw new Error(
    `No Chromium found (looked at ${looked}; CHROMIUM_PATH is unset). The dashboard's browser ` +
      "tests need one: install it with `apt-get install -y chromium` (.ci/run does), or set " +
      "CHROMIUM_PATH to a Chromium or Chrome executable",
  );
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A headless Chromium; each {@link TestBrowser.open} gets a context of its own. */
export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** Opens `url` in a fresh context (own cookies and storage) and records what happens. */
  open(url: string, options?: OpenOptions): Promise<PageProbe>;
  close(): Promise<void>;
}

/** Options of {@link TestBrowser.open}. */
export interface OpenOptions {
  /** Viewport size, CSS pixels. Default 1280×800. */
  viewport?: { width: number; height: number };
  /** Device pixel ratio (2 for a crisp screenshot). Default 1. */
  deviceScaleFactor?: number;
  /** Wait for this `page.goto` state. Default `"load"`. */
  waitUntil?: "load" | "domcontentloaded" | "commit";
}

/** The path playwright-core probes as it loads (to detect WSL); Deno guards all of /proc/sys. */
export const PLAYWRIGHT_PROBE = "/proc/sys/fs/binfmt_misc/WSLInterop";

/**
 * playwright-core's Chromium launcher, loaded on first use: as it loads it checks whether
 * {@link PLAYWRIGHT_PROBE} exists, which Deno refuses (NotCapable) without `-A` or
 * `--ignore-read=PLAYWRIGHT_PROBE` (then it reads as absent, which it is off WSL). Loading it
 * here turns that into one failing test that says what to add, not a broken test module.
 */
async function loadChromium(): Promise<BrowserType> {
  try {
    return (await import("playwright-core")).chromium;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new Error(
      `playwright-core cannot load under these permissions (${error.message}): run with ` +
        `--ignore-read=${PLAYWRIGHT_PROBE} besides --allow-read, or with -A`,
      { cause: error },
    );
  }
}

/** Launches headless Chromium (see {@link findChromium} and {@link CHROMIUM_ARGS}). */
export async function launchBrowser(
  options: { executablePath?: string; timeoutMs?: number } = {},
): Promise<TestBrowser> {
  const executablePath = options.executablePath ?? findChromium();
  const chromium = await loadChromium();
  const browser = await chromium.launch({
    executablePath,
    args: [...CHROMIUM_ARGS],
    timeout: options.timeoutMs ?? 20_000,
  });
  const close = async () => {
    if (browser.isConnected()) await browser.close();
  };
  return {
    browser,
    async open(url, openOptions = {}) {
      const context = await browser.newContext({
        viewport: openOptions.viewport ?? { width: 1280, height: 800 },
        deviceScaleFactor: openOptions.deviceScaleFactor ?? 1,
      });
      try {
        const page = await context.newPage();
        const probe = new PageProbe(context, page, new URL(url).origin);
        await probe.watch();
        await page.goto(url, { waitUntil: openOptions.waitUntil ?? "load", timeout: 10_000 });
        return probe;
      } catch (error) {
        await context.close();
        throw error;
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** One console message, uncaught error or failed request, in the order seen. */
export interface PageEvent {
  kind: "console" | "pageerror" | "requestfailed" | "offorigin";
  /** Console type (`error`, `warning`, `log`, …) or the event kind. */
  type: string;
  text: string;
  /** Where it came from: the script or request URL, when known. */
  url: string;
  /** `Date.now()` when the test saw it. */
  at: number;
}

/** Decides whether a problem is expected (e.g. a refused reconnect while the server is down). */
export type Allow = (event: PageEvent) => boolean;

/**
 * A page and everything it did: console messages, uncaught errors, failed requests, and every
 * request URL (WebSockets included). HTTP requests to another origin are aborted and recorded;
 * WebSockets cannot be routed without replacing the page's `WebSocket` (playwright's
 * `routeWebSocket` injects a stand-in), so an other-origin WebSocket is recorded, not blocked.
 */
export class PageProbe implements AsyncDisposable {
  readonly context: BrowserContext;
  readonly page: Page;
  /** The origin the page may talk to (`http://127.0.0.1:PORT`). */
  readonly origin: string;
  /** Every URL the page requested, WebSockets included, in order. */
  readonly requests: string[] = [];
  /** Requests to another origin (aborted, for HTTP). */
  readonly offOrigin: string[] = [];
  /** Console messages (all types), uncaught errors and failed requests. */
  readonly events: PageEvent[] = [];

  /** Use {@link TestBrowser.open}. */
  constructor(context: BrowserContext, page: Page, origin: string) {
    this.context = context;
    this.page = page;
    this.origin = origin;
  }

  /** Starts recording and routing; before the first navigation. */
  async watch(): Promise<void> {
    const { page } = this;
    const push = (event: Omit<PageEvent, "at">) => this.events.push({ ...event, at: Date.now() });
    page.on(
      "console",
      (m: ConsoleMessage) =>
        push({ kind: "console", type: m.type(), text: m.text(), url: m.location().url }),
    );
    page.on(
      "pageerror",
      (e) => push({ kind: "pageerror", type: "pageerror", text: String(e.stack ?? e), url: "" }),
    );
    page.on("requestfailed", (r) =>
      push({
        kind: "requestfailed",
        type: "requestfailed",
        text: r.failure()?.errorText ?? "failed",
        url: r.url(),
      }));
    page.on("request", (r) => void this.requests.push(r.url()));
    page.on("websocket", (ws) => {
      this.requests.push(ws.url());
      if (!this.sameOrigin(ws.url())) this.#offOrigin(ws.url(), push);
    });
    await this.context.route(() => true, async (route) => {
      const url = route.request().url();
      if (this.sameOrigin(url)) return await route.continue();
      this.#offOrigin(url, push);
      await route.abort("blockedbyclient");
    });
  }

  #offOrigin(url: string, push: (event: Omit<PageEvent, "at">) => void) {
    this.offOrigin.push(url);
    push({ kind: "offorigin", type: "offorigin", text: "request left the page's origin", url });
  }

  /** Whether `url` is the page's origin (its ws:/wss: twin counts) or needs no network. */
  sameOrigin(url: string): boolean {
    const u = new URL(url);
    if (u.protocol === "data:" || u.protocol === "blob:" || u.href === "about:blank") return true;
    const scheme = { "ws:": "http:", "wss:": "https:" }[u.protocol] ?? u.protocol;
    return `${scheme}//${u.host}` === this.origin;
  }

  /**
   * What went wrong: console errors and warnings, uncaught errors, failed and off-origin
   * requests, except those `allow` accepts. Each as one readable line.
   */
  problems(allow: Allow = () => false): string[] {
    return this.events
      .filter((e) => e.kind !== "console" || e.type === "error" || e.type === "warning")
      .filter((e) => !allow(e))
      .map((e) => `${e.kind} ${e.type}: ${e.text}${e.url ? ` (${e.url})` : ""}`);
  }

  /** Console output of the page, for a failure message. */
  transcript(): string {
    return this.events.map((e) => `  ${e.kind} ${e.type}: ${e.text}`).join("\n");
  }

  /** Closes the page's context (and with it the page). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.context.close().catch(() => {});
  }
}

/**
 * Chromium's own log line for a WebSocket to `origin` that could not connect (the server is
 * down, or the test took the page offline). The page cannot silence it: Chromium writes it to
 * the console itself, as `WebSocket connection to 'ws://…' failed: …`.
 */
export function refusedWebSocket(origin: string): Allow {
  const ws = origin.replace(/^http/, "ws");
  return (e) =>
    e.kind === "console" && e.type === "error" &&
    e.text.startsWith(`WebSocket connection to '${ws}/`) &&
    /failed: Error in connection establishment: net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)$/
      .test(e.text);
}

// The dashboard's DOM contract (dashboard/index.html): what the tests, the screenshot script and
// the CPU benchmark read from the page.
