/**
 * Regenerates `docs/dashboard.png`, the README's picture of the dashboard: `serve` with its
 * embedded broker, 15 minutes of simulated readings from V1–V5 (so the charts are full), V1–V4
 * live and V5 gone stale, V1 being irrigated by someone else, seen with a token that may irrigate
 * (so the Irrigate controls show), in headless Chromium. The dashboard's browser test runs it too, so a
 * test run leaves a current picture.
 *
 * ```sh
 * deno run --allow-net --allow-env --allow-run --allow-read --allow-write --allow-sys scripts/screenshot.ts [out.png]
 * ```
 * @module
 */
import mqtt from "mqtt";
import { startServer } from "../server/server.ts";
import { generateDevSecret, mintToken } from "../server/token.ts";
import { createRandom } from "../sim/random.ts";
import { initialState, nextReading, readingPayload, type SensorState } from "../sim/sensors.ts";
import { launchBrowser, type TestBrowser } from "../tests/_browser.ts";
import { eventually, readTiles } from "../tests/_dashboard_page.ts";

/** Where the picture goes by default. */
export const SCREENSHOT_URL: URL = new URL("../docs/dashboard.png", import.meta.url);

const SENSORS = ["V1", "V2", "V3", "V4", "V5"];
/** The sensor that stops publishing, so the picture shows a stale tile. */
const STALE = "V5";
/** History before the page opens: the dashboard's 15-minute window, one reading every 5 s. */
const HISTORY_MS = 15 * 60_000;
const HISTORY_STEP_MS = 5_000;
/** The command topic of the sensor the picture shows being irrigated. */
const IRRIGATED_COMMANDS = "sensors/V1/commands";
/** Live pace of the others while V5 goes stale. */
const LIVE_STEP_MS = 250;
/** Simulated time runs this much faster, so 15 minutes show a few hours of weather. */
const TIME_SCALE = 16;

/** What {@link captureDashboard} saw besides the picture. */
export interface ScreenshotResult {
  /** The PNG written. */
  path: string;
  /** Console errors and warnings, uncaught errors, failed or off-origin requests (see `PageProbe`). */
  problems: string[];
}

/**
 * Starts a server, fills it with readings, opens the dashboard and writes a screenshot once V5 is
 * stale and the others live. Uses `browser` when given (and leaves it open), else launches one.
 */
export async function captureDashboard(
  options: { out?: string | URL; browser?: TestBrowser; timeoutMs?: number } = {},
): Promise<ScreenshotResult> {
  const out = options.out ?? SCREENSHOT_URL;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const secret = generateDevSecret();
  await using server = await startServer({
    port: 0,
    hostname: "127.0.0.1",
    mqtt: { embeddedPort: 0 },
    auth: { secret },
    limits: { rateLimitMs: 0 },
    stream: { staleAfterMs: 500 },
  });
  const model = new Model(Date.now() - HISTORY_MS);
  const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0 });
  const ownBrowser = options.browser ? undefined : await launchBrowser();
  const browser = options.browser ?? ownBrowser!;
  let live: ReturnType<typeof setInterval> | undefined;
  try {
    let published = 0;
    for (let t = model.start; t <= Date.now(); t += HISTORY_STEP_MS) {
      for (const id of SENSORS) await client.publishAsync(`sensors/${id}/data`, model.at(id, t));
      published += SENSORS.length;
    }
    await eventually(
      () => Promise.resolve(server.metrics.readingsForwarded.value),
      (n) => n >= published,
      timeoutMs,
    );
    const token = await mintToken(secret, {
      sub: "screenshot",
      ttlSec: 600,
      commands: ["irrigate"],
    });
    await using probe = await browser.open(`${server.httpUrl}/#token=${token}`, {
      viewport: { width: 1280, height: 900 },
      deviceScaleFactor: 1,
    });
    live = setInterval(() => {
      for (const id of SENSORS) {
        if (id !== STALE) client.publish(`sensors/${id}/data`, model.at(id, Date.now()));
      }
    }, LIVE_STEP_MS);
    const tiles = await eventually(
      () => readTiles(probe.page),
      (tiles) => SENSORS.every((id) => tiles[id]?.status === (id === STALE ? "stale" : "live")),
      timeoutMs,
    );
    // Someone else irrigates V1 (published as another instance would); the valve opens.
    const command = {
      id: "screenshot",
      action: "irrigate",
      params: { duration_s: 600 },
      issued_by: "alice",
      issued_at: new Date().toISOString(),
    };
    await client.publishAsync(IRRIGATED_COMMANDS, JSON.stringify(command), { qos: 1 });
    await client.publishAsync(
      `${IRRIGATED_COMMANDS}/ack`,
      JSON.stringify({ id: command.id, status: "accepted" }),
      { qos: 1 },
    );
    await probe.page.getByTestId("valve").first().waitFor({ state: "visible", timeout: timeoutMs });
    const shown = SENSORS.map((id) => `${id}=${tiles[id]?.status}`).join(" ");
    if (tiles[STALE]?.status !== "stale" || shown.includes("undefined")) {
      throw new Error(`the dashboard did not show ${STALE} stale and the rest live: ${shown}`);
    }
    // Let the charts take the last live readings and the age counters tick once.
    await probe.page.waitForTimeout(1_200);
    const path = out instanceof URL ? out.pathname : out;
    await probe.page.screenshot({ path, fullPage: true, animations: "disabled" });
    return { path, problems: probe.problems() };
  } finally {
    clearInterval(live);
    await client.endAsync();
    await ownBrowser?.close();
  }
}

/** Simulated stations on a fast clock: model time runs TIME_SCALE times faster than `t`. */
class Model {
  readonly start: number;
  readonly #random = createRandom(7);
  readonly #states = new Map<string, SensorState>();

  constructor(start: number) {
    this.start = start;
    // Morning, so the light curve rises through the picture.
    const modelStart = Date.UTC(2024, 5, 1, 7);
    for (const id of SENSORS) this.#states.set(id, initialState(id, this.#random, modelStart));
  }

  /** The payload of sensor `id` at real time `t`. */
  at(id: string, t: number): string {
    const state = this.#states.get(id)!;
    const modelT = Date.UTC(2024, 5, 1, 7) + (t - this.start) * TIME_SCALE;
    const reading = nextReading(state, modelT, this.#random);
    this.#states.set(id, reading.state);
    return readingPayload(id, t, reading.values);
  }
}

if (import.meta.main) {
  const out = Deno.args[0] ?? SCREENSHOT_URL;
  const result = await captureDashboard({ out });
  const log = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
  for (const problem of result.problems) log(`page: ${problem}`);
  log(`wrote ${result.path}`);
}
