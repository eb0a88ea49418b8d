/**
 * Irrigating from the dashboard, in a real browser against the real server, a real Mosquitto and a
 * device played by an MQTT client: a page whose token may irrigate sends the command from V1's
 * tile and follows it to its end; a view-only page sees the valve too, without the control.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchBrowser } from "./_browser.ts";
import { eventually, readText } from "./_dashboard_page.ts";
import {
  assertCleanPage,
  CONNECTED,
  dashboardUrl,
  publisherOf,
  valuesOf,
} from "./_dashboard_fixture.ts";
import { mintTestToken, startMosquitto, waitFor } from "./_helpers.ts";
import { waitForReadyz } from "./_http.ts";
import { startTestServer } from "./_server.ts";
import { startDevice } from "./_device.ts";

/** What a tile shows of its valve, its own last command, and whether it offers Irrigate. */
interface Valve {
  valve: string | null;
  state: string | null;
  status: string | null;
  irrigate: boolean;
}

async function valveOf(page: Page, id: string): Promise<Valve> {
  const tile = page.getByTestId(`tile-${id}`);
  const valve = tile.getByTestId("valve");
  const status = tile.getByTestId("command-status");
  const shown = await valve.isVisible();
  return {
    valve: shown ? (await valve.textContent())?.trim() ?? null : null,
    state: shown ? await valve.getAttribute("data-valve") : null,
    status: await status.count() > 0 ? (await status.textContent())?.trim() ?? null : null,
    irrigate: await tile.getByRole("button", { name: `Irrigate ${id}` }).isVisible(),
  };
}

async function until(page: Page, id: string, ok: (v: Valve) => boolean): Promise<Valve> {
  return await eventually(() => valveOf(page, id), ok);
}

Deno.test("a page whose token may irrigate irrigates V1; a view-only page sees the valve", async (t) => {
  await using mosquitto = await startMosquitto();
  // One command per sensor a minute: a second one is refused, with the server's reason.
  await using server = await startTestServer({
    mqtt: { url: mosquitto.url },
    commands: { intervalMs: 60_000 },
  });
  await waitForReadyz(server.httpUrl, 200);
  await using publisher = await publisherOf(mosquitto.url);
  await using device = await startDevice(mosquitto.url);
  for (const [i, id] of ["V1", "V2"].entries()) await publisher.send(id, valuesOf(i, 0));

  await using browser = await launchBrowser();
  const irrigator = await mintTestToken({ commands: ["irrigate"] }, { sub: "alice" });
  await using alice = await browser.open(dashboardUrl(server, { token: irrigator }));
  await using bob = await browser.open(
    dashboardUrl(server, { token: await mintTestToken({}, { sub: "bob" }) }),
  );
  const pages = [alice.page, bob.page];

  await t.step(
    "the token that may irrigate gets Irrigate on each tile; view-only does not",
    async () => {
      for (const page of pages) {
        const state = await eventually(
          () => readText(page, "connection"),
          (s) => CONNECTED.test(s ?? ""),
        );
        assert.match(state ?? "", CONNECTED);
      }
      for (const id of ["V1", "V2"]) {
        const v = await until(alice.page, id, (v) => v.irrigate);
        assert.deepEqual(v, { valve: null, state: null, status: "", irrigate: true }, id);
        const duration = alice.page.getByTestId(`tile-${id}`).getByLabel("Seconds");
        assert.equal(await duration.inputValue(), "30", "30 s unless changed");
        assert.deepEqual(
          await duration.evaluate((el) => [el.getAttribute("min"), el.getAttribute("max")]),
          ["1", "3600"],
        );
        await bob.page.getByTestId(`tile-${id}`).waitFor({ timeout: 5_000 });
        assert.deepEqual(await valveOf(bob.page, id), {
          valve: null,
          state: null,
          status: null,
          irrigate: false,
        });
      }
    },
  );

  let id = "";
  await t.step("Irrigate sends the command with the duration typed", async () => {
    const tile = alice.page.getByTestId("tile-V1");
    await tile.getByLabel("Seconds").fill("45");
    await tile.getByRole("button", { name: "Irrigate V1" }).click();
    await waitFor(() => device.received.length > 0, 5_000, "the command at the device");
    assert.equal(device.received.length, 1, "one command reached the device");
    const command = device.received[0]!.command!;
    assert.equal(command.action, "irrigate");
    assert.deepEqual(command.params, { duration_s: 45 });
    assert.equal(command.issued_by, "alice");
    id = command.id;
    const v = await until(alice.page, "V1", (v) => v.state === "sent");
    assert.equal(v.valve, "irrigation sent — by alice");
    assert.equal(v.status, "Sent; waiting for the valve…");
  });

  await t.step("the valve opens: both pages show V1 irrigating, by alice", async () => {
    await device.ack("V1", { id, status: "accepted" });
    for (const page of pages) {
      const v = await until(page, "V1", (v) => v.state === "accepted");
      assert.equal(v.valve, "irrigating — by alice");
    }
    assert.equal((await valveOf(alice.page, "V1")).status, "Irrigating for 45 s.");
    assert.equal((await valveOf(bob.page, "V2")).valve, null, "V2 is not irrigated");
  });

  await t.step("it ends: both pages show V1 irrigated", async () => {
    await device.ack("V1", { id, status: "done" });
    for (const page of pages) {
      const v = await until(page, "V1", (v) => v.state === "done");
      assert.equal(v.valve, "irrigated — by alice");
    }
    assert.equal((await valveOf(alice.page, "V1")).status, "Done.");
  });

  await t.step("a duration out of range is not sent: the browser says what is wrong", async () => {
    const tile = alice.page.getByTestId("tile-V1");
    const duration = tile.getByLabel("Seconds");
    await duration.fill("3601");
    await tile.getByRole("button", { name: "Irrigate V1" }).click();
    assert.equal(
      await duration.evaluate((el) => (el as unknown as HTMLInput).validity.valid),
      false,
    );
    // Irrigate marks the command as sending at once when it goes out.
    assert.equal((await valveOf(alice.page, "V1")).status, "Done.");
  });

  await t.step("a command the server refuses shows why", async () => {
    const tile = alice.page.getByTestId("tile-V1");
    await tile.getByLabel("Seconds").fill("10");
    await tile.getByRole("button", { name: "Irrigate V1" }).click();
    const v = await until(alice.page, "V1", (v) => v.status?.startsWith("Rejected") ?? false);
    // The server's words, as it sent them.
    assert.match(v.status ?? "", /^Rejected: rate limited: .*V1/);
    assert.equal(device.received.length, 1, "nothing more reached the device");
    assert.equal(v.valve, "irrigated — by alice", "the valve line is about the valve");
  });

  await t.step("no console errors, and no request leaves the page's origin", async () => {
    await assertCleanPage(alice);
    await assertCleanPage(bob);
  });
});

/** The little of an input element the in-page check reads (the project has no DOM types). */
interface HTMLInput {
  validity: { valid: boolean };
}
