/**
 * The dashboard in a real browser: headless Chromium (through playwright-core) on `serve`'s `/`,
 * with a real Mosquitto, as a person opening `/#token=…` sees it. Needs Chromium
 * (`apt-get install -y chromium`, or `CHROMIUM_PATH`): without one these tests fail, saying so.
 * Every page is also held to: no console error or warning, no uncaught error, no failed request,
 * a favicon that loads, and no request leaving the page's origin.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { captureDashboard } from "../scripts/screenshot.ts";
import { CloseReason } from "../protocol/mod.ts";
import { findChromium, launchBrowser } from "./_browser.ts";
import { eventually, QUANTITIES, readSeries, readText, readTiles } from "./_dashboard_page.ts";
import {
  assertCleanPage,
  CONNECTED,
  dashboardUrl,
  publisherOf,
  SENSORS,
  tileOf,
  valuesOf,
  withoutAge,
} from "./_dashboard_fixture.ts";
import { mintTestToken, startMosquitto } from "./_helpers.ts";
import { waitForReadyz } from "./_http.ts";
import { startTestServer } from "./_server.ts";

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

Deno.test("docs/dashboard.png is taken from the running dashboard", async () => {
  await using browser = await launchBrowser();
  const result = await captureDashboard({ browser });
  const png = await Deno.readFile(result.path);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${result.path} is not a PNG`);
  assert.ok(png.length > 20_000, `${result.path} is only ${png.length} bytes`);
  assert.deepEqual(result.problems, [], "problems on the page");
});
