/**
 * Reading the dashboard as its tests see it: the DOM contract (tiles, text by test id, chart
 * series through `window.__sensorstream`) and a bounded wait that keeps the last value read, so a
 * failure shows what the page displayed.
 * @module
 */
import type { Page } from "playwright-core";

/** The quantities of a reading, as the tiles and charts name them. */
export const QUANTITIES = ["moisture", "temperature", "humidity", "light"] as const;
/** One of {@link QUANTITIES}. */
export type Quantity = typeof QUANTITIES[number];

/** What one sensor's tile shows: `data-status` and the text of each value and of its age. */
export interface Tile {
  status: string | null;
  moisture: string | null;
  temperature: string | null;
  humidity: string | null;
  light: string | null;
  age: string | null;
}

/**
 * The little of the DOM the in-page functions use (this project type-checks without the DOM
 * library; playwright runs these functions in the page, where the real DOM is).
 */
export interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  readonly href?: string;
  querySelector(selector: string): PageElement | null;
}

/** The page's `document`, as far as the in-page functions use it. */
export interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}

/** Every tile on the page (`data-testid="tile-ID"`), by sensor id. */
export async function readTiles(page: Page): Promise<Record<string, Tile>> {
  return await page.evaluate((quantities) => {
    const { document } = globalThis as unknown as { document: PageDocument };
    const tiles: Record<string, Record<string, string | null>> = {};
    for (const el of document.querySelectorAll('[data-testid^="tile-"]')) {
      const id = el.dataset.testid!.slice("tile-".length);
      const text = (name: string) =>
        el.querySelector(`[data-testid="${name}"]`)?.textContent?.trim() ?? null;
      tiles[id] = { status: el.dataset.status ?? null, age: text("age") };
      for (const q of quantities) tiles[id]![q] = text(q);
    }
    return tiles;
  }, [...QUANTITIES]) as unknown as Record<string, Tile>;
}

/** The trimmed text of `data-testid=testid`, or null when there is no such element. */
export async function readText(page: Page, testid: string): Promise<string | null> {
  const el = page.getByTestId(testid);
  if (await el.count() === 0) return null;
  return (await el.first().textContent())?.trim() ?? null;
}

/**
 * The points of one chart line, `[timestampMs, value]`, from `window.__sensorstream.series`;
 * null when the page does not offer it.
 */
export async function readSeries(
  page: Page,
  quantity: Quantity,
  sensorId: string,
): Promise<Array<[number, number]> | null> {
  return await page.evaluate(([q, id]) => {
    const api = (globalThis as {
      __sensorstream?: { series(q: string, id: string): ArrayLike<[number, number]> };
    }).__sensorstream;
    return api ? Array.from(api.series(q, id), ([t, v]) => [t, v] as [number, number]) : null;
  }, [quantity, sensorId] as const);
}

/**
 * Reads until `ok` holds or `ms` pass, and returns the last value read: the caller asserts on
 * it, so a timeout fails with what the page showed instead of a bare "timed out".
 */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 5_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await read();
    if (ok(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
