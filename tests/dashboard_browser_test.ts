/**
 * The dashboard in a real browser: headless Chromium (through playwright-core) on `serve`'s `/`,
 * with a real Mosquitto, as a person opening `/#token=…` sees it. Needs Chromium
 * (`apt-get install -y chromium`, or `CHROMIUM_PATH`): without one these tests fail, saying so.
 * Every page is also held to: no console error or warning, no uncaught error, no failed request,
 * a favicon that loads, and no request leaving the page's origin.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import mqtt from "mqtt";
import { captureDashboard } from "../scripts/screenshot.ts";
import { CloseReason } from "../protocol/mod.ts";
import type { ServerHandle } from "../server/server.ts";
import {
  type Allow,
  findChromium,
  launchBrowser,
  type PageProbe,
  refusedWebSocket,
} from "./_browser.ts";
import {
  eventually,
  type PageDocument,
  QUANTITIES,
  readSeries,
  readText,
  readTiles,
  type Tile,
} from "./_dashboard_page.ts";
import { mintTestToken, publish, startMosquitto, waitFor } from "./_helpers.ts";
import { waitForReadyz } from "./_http.ts";
import { payload, startTestServer } from "./_server.ts";

const SENSORS = ["V1", "V2", "V3", "V4", "V5"];
/** `connected` as a word: "disconnected" does not count. */
const CONNECTED = /(^|[^a-z])connected\b/i;

/** The dashboard of `server`, with `fragment` after the `#` (`token`, `sensors`). */
function dashboardUrl(server: ServerHandle, fragment: Record<string, string>): string {
  return `${server.httpUrl}/#${new URLSearchParams(fragment)}`;
}

/** Reading `round` of sensor number `index`: values with fractions, so rounding shows. */
function valuesOf(index: number, round: number) {
  return {
    moisture: 20.25 + index * 10 + round,
    temperature: -5.5 + index * 3 + round * 0.125,
    humidity: 40.75 + index * 5 + round,
    light: 100.5 + index * 100 + round * 17,
  };
}

/** What a tile shows for `values`: each number as it was received. */
function tileOf(status: string, values: ReturnType<typeof valuesOf>): Omit<Tile, "age"> {
  return {
    status,
    moisture: String(values.moisture),
    temperature: String(values.temperature),
    humidity: String(values.humidity),
    light: String(values.light),
  };
}

/** The tiles without their ages (which tick). */
function withoutAge(tiles: Record<string, Tile>): Record<string, Omit<Tile, "age">> {
  return Object.fromEntries(
    Object.entries(tiles).map(([id, { age: _age, ...rest }]) => [id, rest]),
  );
}

/** One MQTT client that publishes readings with their own timestamps (QoS 1). */
async function publisherOf(url: string) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000 });
  return {
    async send(id: string, values: Record<string, number>, at = Date.now()): Promise<void> {
      const body = JSON.stringify({ ...values, timestamp: new Date(at).toISOString() });
      await client.publishAsync(`sensors/${id}/data`, body, { qos: 1 });
    },
    async [Symbol.asyncDispose](): Promise<void> {
      await client.endAsync();
    },
  };
}

/**
 * The favicon loads, no request left the page's origin, and nothing went wrong on the page (but
 * what `allow` accepts).
 */
async function assertCleanPage(probe: PageProbe, allow?: Allow): Promise<void> {
  const href = await probe.page.evaluate(() => {
    const { document, location } = globalThis as unknown as {
      document: PageDocument;
      location: { href: string };
    };
    return document.querySelector('link[rel~="icon"]')?.href ??
      new URL("/favicon.ico", location.href).href;
  });
  if (!href.startsWith("data:image/")) {
    assert.ok(probe.sameOrigin(href), `the favicon ${href} is on another origin`);
    const res = await fetch(href);
    await res.body?.cancel();
    assert.equal(res.status, 200, `the favicon ${href} answers ${res.status}`);
    assert.match(res.headers.get("content-type") ?? "", /^image\//, `the favicon ${href}`);
  }
  assert.deepEqual(probe.offOrigin, [], "requests that left the page's origin");
  assert.deepEqual(
    probe.problems(allow),
    [],
    `problems on the page; all it logged:\n${probe.transcript()}`,
  );
}

Deno.test("findChromium fails, saying what to install, when there is no Chromium", () => {
  assert.throws(() => findChromium("", []), /No Chromium found.*apt-get install -y chromium/);
  assert.throws(() => findChromium("/nonexistent/chrome"), /CHROMIUM_PATH=\/nonexistent\/chrome/);
});

Deno.test("the dashboard shows the values last published, and a sensor that stops as stale", async (t) => {
  await using mosquitto = await startMosquitto();
  await using server = await startTestServer({
    mqtt: { url: mosquitto.url },
    stream: { staleAfterMs: 1_000 },
  });
  await waitForReadyz(server.httpUrl, 200);
  await using publisher = await publisherOf(mosquitto.url);
  const stamps: number[] = [];
  const round = async (r: number, ids = SENSORS) => {
    const at = Date.now();
    stamps.push(at);
    for (const id of ids) await publisher.send(id, valuesOf(SENSORS.indexOf(id), r), at);
  };
  await round(0); // before the page opens: it learns these on connect
  await using browser = await launchBrowser();
  await using probe = await browser.open(dashboardUrl(server, { token: await mintTestToken() }));
  const { page } = probe;

  await t.step("it connects, and says so", async () => {
    const connection = await eventually(
      () => readText(page, "connection"),
      (s) => CONNECTED.test(s ?? ""),
    );
    assert.match(connection ?? "(no connection element)", CONNECTED);
    const broker = await eventually(() => readText(page, "broker"), (s) => CONNECTED.test(s ?? ""));
    assert.match(broker ?? "(no broker element)", CONNECTED);
    assert.equal(await page.getByTestId("token-panel").isVisible(), false, "token panel shown");
  });

  // Three live rounds, 300 ms apart (so the server learns a 300 ms rhythm).
  for (const r of [1, 2, 3]) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await round(r);
  }
  const last = Object.fromEntries(SENSORS.map((id, i) => [id, tileOf("live", valuesOf(i, 3))]));

  await t.step("V1–V5 show exactly the values last published", async () => {
    const tiles = await eventually(
      async () => withoutAge(await readTiles(page)),
      (tiles) => isDeepStrictEqual(tiles, last),
    );
    assert.deepEqual(tiles, last);
    for (const id of SENSORS) {
      assert.ok(await page.getByTestId(`tile-${id}`).isVisible(), `tile-${id} is not visible`);
    }
  });

  await t.step("the charts hold every reading", async () => {
    for (const [i, id] of SENSORS.entries()) {
      for (const q of QUANTITIES) {
        const expected = stamps.map((at, r) => [at, valuesOf(i, r)[q]]);
        const series = await eventually(
          () => readSeries(page, q, id),
          (s) => isDeepStrictEqual(s, expected),
        );
        assert.deepEqual(series, expected, `chart of ${q} for ${id}`);
      }
    }
    for (const q of QUANTITIES) {
      assert.ok(await page.getByTestId(`chart-${q}`).isVisible(), `chart-${q} is not visible`);
    }
  });

  // V3 falls silent; the others go on every 300 ms.
  const others = SENSORS.filter((id) => id !== "V3");
  let r = 4;
  let running = true;
  const ticking = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (running) await round(r++, others);
    }
  })();
  try {
    await t.step(
      "a sensor that stops publishing is shown stale, with its last values",
      async () => {
        const tiles = await eventually(
          () => readTiles(page),
          (tiles) => tiles.V3?.status === "stale",
          4_000,
        );
        assert.equal(tiles.V3?.status, "stale", "V3 silent for 4 s");
        assert.deepEqual(withoutAge({ V3: tiles.V3! }).V3, tileOf("stale", valuesOf(2, 3)));
        for (const id of others) assert.equal(tiles[id]?.status, "live", `${id} still publishes`);
      },
    );
  } finally {
    running = false;
    await ticking;
  }

  await t.step("and live again on its next reading", async () => {
    await round(9, ["V3"]);
    const tiles = await eventually(
      () => readTiles(page),
      (tiles) =>
        tiles.V3?.status === "live" && tiles.V3.moisture === String(valuesOf(2, 9).moisture),
    );
    assert.deepEqual(withoutAge({ V3: tiles.V3! }).V3, tileOf("live", valuesOf(2, 9)));
  });

  await t.step("no console errors, and no request leaves the page's origin", async () => {
    await assertCleanPage(probe);
  });
});

Deno.test("a refused token shows why, in the token panel", async (t) => {
  await using server = await startTestServer();
  await using browser = await launchBrowser();
  const cases: Array<[string, string, string]> = [
    [
      "signed with another key",
      await mintTestToken({}, { secret: "another-secret-another-secret-0123456789" }),
      CloseReason.INVALID_TOKEN,
    ],
    [
      "expired",
      await mintTestToken({}, { expiresIn: Math.floor(Date.now() / 1000) - 3_600 }),
      CloseReason.TOKEN_EXPIRED,
    ],
  ];
  for (const [name, token, reason] of cases) {
    await t.step(`a token ${name}: "${reason}"`, async () => {
      await using probe = await browser.open(dashboardUrl(server, { token }));
      const { page } = probe;
      await page.getByTestId("token-panel").waitFor({ state: "visible", timeout: 5_000 });
      const error = await eventually(
        () => readText(page, "token-error"),
        (text) => text?.includes(reason) ?? false,
      );
      assert.ok(error?.includes(reason), `token-error says ${JSON.stringify(error)}`);
      assert.ok(await page.getByTestId("token-input").isVisible(), "no token input to paste into");
      assert.doesNotMatch(await readText(page, "connection") ?? "", CONNECTED);
      await assertCleanPage(probe);
    });
  }
  await t.step("no token at all", async () => {
    await using probe = await browser.open(`${server.httpUrl}/`);
    await probe.page.getByTestId("token-panel").waitFor({ state: "visible", timeout: 5_000 });
    assert.ok(await probe.page.getByTestId("token-input").isVisible());
    await assertCleanPage(probe);
  });
});

/**
 * Mosquitto outlives serve. Readings 3–5 are published while no serve runs: they can only reach
 * the chart through the bridge's persistent MQTT session (a fixed client id and QoS 1, so the
 * broker holds them) and then the page's history request. Readings 6–8 are published once the
 * new serve is up but while the page is held offline: they can only reach it as history, asked
 * for per sensor since its newest reading. Reading 9 comes live.
 */
Deno.test("after serve restarts, the page reconnects and its chart has no gap", async (t) => {
  await using mosquitto = await startMosquitto();
  // A fixed client id and QoS 1: the broker holds the readings for serve while it is down.
  const options = {
    mqtt: {
      url: mosquitto.url,
      clientId: `sensorstream-browser-${crypto.randomUUID().slice(0, 8)}`,
      qos: 1 as const,
    },
  };
  const first = await startTestServer(options);
  let second: ServerHandle | undefined;
  try {
    await waitForReadyz(first.httpUrl, 200);
    const base = Date.now() - 60_000;
    const reading = (k: number) => ({
      topic: "sensors/V1/data",
      payload: payload({ moisture: 10.5 + k, timestamp: new Date(base + k * 1_000).toISOString() }),
    });
    const expected = (ks: number[]) => ks.map((k) => [base + k * 1_000, 10.5 + k]);
    await publish(mosquitto.url, [0, 1, 2].map(reading));
    await using browser = await launchBrowser();
    const token = await mintTestToken();
    await using probe = await browser.open(dashboardUrl(first, { token, sensors: "V1" }));
    const { page } = probe;
    const before = await eventually(
      () => readSeries(page, "moisture", "V1"),
      (s) => isDeepStrictEqual(s, expected([0, 1, 2])),
    );
    assert.deepEqual(before, expected([0, 1, 2]), "the chart before the restart");

    // Offline, the page cannot come back before we let it: the readings published once the new
    // serve is up must come to it as history, not live.
    await probe.context.setOffline(true);
    await first.shutdown();
    await t.step("the page says it is reconnecting", async () => {
      const text = await eventually(
        () => readText(page, "connection"),
        (s) => /reconnecting/i.test(s ?? ""),
        3_000,
      );
      assert.match(text ?? "(no connection element)", /reconnecting/i);
    });
    await publish(mosquitto.url, [3, 4, 5].map(reading)); // serve is down: the broker holds them
    second = await startTestServer({ ...options, port: first.addr.port });
    const restarted = second;
    await waitForReadyz(restarted.httpUrl, 200);
    await waitFor(
      () => restarted.metrics.readingsForwarded.value >= 3,
      5_000,
      "the readings the broker held for serve",
    );
    await publish(mosquitto.url, [6, 7, 8].map(reading)); // serve is up, the page not back yet
    await waitFor(() => restarted.metrics.readingsForwarded.value >= 6, 5_000, "readings 6–8");
    await probe.context.setOffline(false);

    await t.step("the page reconnects", async () => {
      const text = await eventually(
        () => readText(page, "connection"),
        (s) => CONNECTED.test(s ?? ""),
        15_000,
      );
      assert.match(text ?? "(no connection element)", CONNECTED);
    });
    await publish(mosquitto.url, [reading(9)]);
    const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const series = await eventually(
      () => readSeries(page, "moisture", "V1"),
      (s) => isDeepStrictEqual(s, expected(all)),
    );
    const has = (k: number) => series?.some(([t]) => t === base + k * 1_000) ?? false;
    await t.step("the readings published while serve was down are on the chart", () => {
      assert.deepEqual([3, 4, 5].filter((k) => !has(k)), [], "missing readings");
    });
    await t.step("the readings published before the page came back are on the chart", () => {
      assert.deepEqual([6, 7, 8].filter((k) => !has(k)), [], "missing readings");
    });
    await t.step("the chart is every reading once, in order", () => {
      assert.deepEqual(series, expected(all));
    });
    await t.step(
      "no console errors but the refused reconnects, all on the page's origin",
      async () => {
        // The test took the browser offline for a while: a fetch of the page's own (a favicon
        // refresh) may fail then, as in any browser that loses its network.
        const refused = refusedWebSocket(probe.origin);
        await assertCleanPage(probe, (e) =>
          refused(e) ||
          (/net::ERR_INTERNET_DISCONNECTED/.test(e.text) && probe.sameOrigin(e.url)));
      },
    );
  } finally {
    await first.shutdown();
    await second?.shutdown();
  }
});

Deno.test("docs/dashboard.png is taken from the running dashboard", async () => {
  await using browser = await launchBrowser();
  const result = await captureDashboard({ browser });
  const png = await Deno.readFile(result.path);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${result.path} is not a PNG`);
  assert.ok(png.length > 20_000, `${result.path} is only ${png.length} bytes`);
  assert.deepEqual(result.problems, [], "problems on the page");
});
