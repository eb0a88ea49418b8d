/**
 * The dashboard in a real browser: headless Chromium (through playwright-core) on `serve`'s `/`,
 * with a real Mosquitto, as a person opening `/#token=…` sees it. Needs Chromium
 * (`apt-get install -y chromium`, or `CHROMIUM_PATH`): without one these tests fail, saying so.
 * Every page is also held to: no console error or warning, no uncaught error, no failed request,
 * a favicon that loads, and no request leaving the page's origin.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { ServerHandle } from "../server/server.ts";
import { launchBrowser, refusedWebSocket } from "./_browser.ts";
import { eventually, readSeries, readText } from "./_dashboard_page.ts";
import { assertCleanPage, CONNECTED, dashboardUrl } from "./_dashboard_fixture.ts";
import { mintTestToken, publish, startMosquitto, waitFor } from "./_helpers.ts";
import { waitForReadyz } from "./_http.ts";
import { payload, startTestServer } from "./_server.ts";

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
