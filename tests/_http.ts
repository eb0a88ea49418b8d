/**
 * What an operator's tools read over HTTP, read the same way: `/metrics` as Prometheus scrapes
 * it and `/readyz` as a load balancer polls it. Every wait is bounded.
 */

/** The value of one series in Prometheus text, or `undefined` when the series is absent. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels).sort();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => [k!, v!] as [string, string]).sort();
    if (JSON.stringify(got) === JSON.stringify(wanted)) return Number(m[3]);
  }
  return undefined;
}

/** Scrapes `/metrics` of the server at `httpUrl` once and returns one series' value. */
export async function scrape(
  httpUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const res = await fetch(`${httpUrl}/metrics`);
  return metricValue(await res.text(), name, labels);
}

/** Scrapes every 20 ms until `check` accepts the series' value, for at most `ms`. */
export async function waitForMetric(
  httpUrl: string,
  name: string,
  check: (value: number | undefined) => boolean,
  options: { labels?: Record<string, string>; ms?: number } = {},
): Promise<number | undefined> {
  const ms = options.ms ?? 3_000;
  const deadline = Date.now() + ms;
  while (true) {
    const value = await scrape(httpUrl, name, options.labels);
    if (check(value)) return value;
    if (Date.now() > deadline) {
      const series = `${name}${options.labels ? JSON.stringify(options.labels) : ""}`;
      throw new Error(`${series} is ${value}, still not as expected after ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One answer of `/readyz`. */
export interface Readiness {
  status: number;
  body: Record<string, unknown>;
}

/** Fetches `/readyz` once. */
export async function readyz(httpUrl: string): Promise<Readiness> {
  const res = await fetch(`${httpUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Polls `/readyz` every 20 ms until it answers `status`, for at most `ms`; returns that answer. */
export async function waitForReadyz(
  httpUrl: string,
  status: number,
  ms = 5_000,
): Promise<Readiness> {
  const deadline = Date.now() + ms;
  while (true) {
    const answer = await readyz(httpUrl);
    if (answer.status === status) return answer;
    if (Date.now() > deadline) {
      throw new Error(
        `/readyz still answers ${answer.status} ${JSON.stringify(answer.body)}, not ${status}, ` +
          `after ${ms} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
