/**
 * Shared by the dashboard's browser tests: the sensors, the page's URL, readings and the tiles
 * they make, a publisher, and the checks every page is held to.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { ServerHandle } from "../server/server.ts";
import type { Allow, PageProbe } from "./_browser.ts";
import type { PageDocument, Tile } from "./_dashboard_page.ts";

export const SENSORS = ["V1", "V2", "V3", "V4", "V5"];
/** `connected` as a word: "disconnected" does not count. */
export const CONNECTED = /(^|[^a-z])connected\b/i;

/** The dashboard of `server`, with `fragment` after the `#` (`token`, `sensors`). */
export function dashboardUrl(server: ServerHandle, fragment: Record<string, string>): string {
  return `${server.httpUrl}/#${new URLSearchParams(fragment)}`;
}

/** The four quantities of one reading. */
export type Values = { moisture: number; temperature: number; humidity: number; light: number };

/** Reading `round` of sensor number `index`: values with fractions, so rounding shows. */
export function valuesOf(index: number, round: number): Values {
  return {
    moisture: 20.25 + index * 10 + round,
    temperature: -5.5 + index * 3 + round * 0.125,
    humidity: 40.75 + index * 5 + round,
    light: 100.5 + index * 100 + round * 17,
  };
}

/** What a tile shows for `values`: each number as it was received. */
export function tileOf(status: string, values: Values): Omit<Tile, "age"> {
  return {
    status,
    moisture: String(values.moisture),
    temperature: String(values.temperature),
    humidity: String(values.humidity),
    light: String(values.light),
  };
}

/** The tiles without their ages (which tick). */
export function withoutAge(tiles: Record<string, Tile>): Record<string, Omit<Tile, "age">> {
  return Object.fromEntries(
    Object.entries(tiles).map(([id, { age: _age, ...rest }]) => [id, rest]),
  );
}

/** Sends readings to the broker; closes the MQTT client when disposed. */
export type Publisher = AsyncDisposable & {
  send(id: string, values: Record<string, number>, at?: number): Promise<void>;
};

/** One MQTT client that publishes readings with their own timestamps (QoS 1). */
export async function publisherOf(url: string): Promise<Publisher> {
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
export async function assertCleanPage(probe: PageProbe, allow?: Allow): Promise<void> {
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
