/**
 * The overload bench's Markdown: the issue's table (RSS, age, readings per client, deliveries/s,
 * clients that ended on the last values, the per-sensor-second floor) and a second table with
 * what makes the first one trustworthy (CPU of each process, connects, closes). Pure.
 * @module
 */
import type { LoadResult, Sample } from "./overload_run.ts";

const MiB = 2 ** 20;
const n = (v: number | undefined, digits = 0): string =>
  v === undefined || !Number.isFinite(v)
    ? "—"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number | undefined) => `${n(bytes === undefined ? undefined : bytes / MiB)} MiB`;
const secs = (ms: number | undefined) => (ms === undefined ? "—" : `${n(ms / 1000, 2)} s`);

/** `1,000 clients × 500 readings/s`. */
export function loadName(r: LoadResult): string {
  return `${n(r.spec.clients)} clients × ${n(r.spec.rate)} readings/s`;
}

/** A process of the bench, the other processes, or a core. */
export type CpuUser = "server" | "clients" | "publisher" | "others" | "core0" | "core1";

/** Percent of one core that `who` used between two samples. */
export function coreShare(
  from: Sample | undefined,
  to: Sample | undefined,
  who: CpuUser,
): number | undefined {
  if (!from || !to || to.at <= from.at) return undefined;
  const cpu = (s: Sample) => {
    if (who === "others") return s.machine.others;
    if (who === "core0" || who === "core1") return s.machine.cores[Number(who[4])] ?? NaN;
    return s[who].cpu;
  };
  return (100 * (cpu(to) - cpu(from))) / ((to.at - from.at) / 1000);
}

function endedOnLast(r: LoadResult, which: "afterCheck" | "drained"): string {
  const c = r.checks?.[which];
  if (!c) return "—";
  const last = c.lastReachedAt !== null && r.published
    ? ` (last at +${n((c.lastReachedAt - r.published.endedAt) / 1000, 2)} s)`
    : "";
  return `${n(c.endedOnLast)} of ${n(c.clients)}${last}`;
}

function mainRow(r: LoadResult): string {
  const s = r.summary;
  const seconds = r.published ? (r.published.endedAt - r.published.startedAt) / 1000 : undefined;
  const peak = r.drained?.server.peakRss;
  return [
    loadName(r),
    `${mb(r.connected?.server.rss)} → ${mb(r.endOfPublish?.server.rss)} → ` +
    `${mb(r.drained?.server.rss)} (peak ${mb(peak)})`,
    s ? `${secs(s.ageMs.p50)} / ${secs(s.ageMs.p99)} (max ${secs(s.ageMs.max)})` : "—",
    s ? `${n(s.perClient.min)} / ${n(s.perClient.median)} of ${n(r.published?.count)}` : "—",
    s && seconds ? n(s.deliveredDuringPublish / seconds) : "—",
    `${endedOnLast(r, "afterCheck")}; ${endedOnLast(r, "drained")}`,
    s ? `${n(s.worstSensorSecond)} (lowest average ${n(s.lowestSensorRate, 1)}/s)` : "—",
  ].join(" | ");
}

function detailRow(r: LoadResult): string {
  const s = r.summary;
  const pct = (who: CpuUser) => {
    const during = coreShare(r.connected, r.endOfPublish, who);
    const drain = coreShare(r.endOfPublish, r.drained, who);
    return `${n(during)} % / ${n(drain)} %`;
  };
  const codes = s ? Object.entries(s.closeCodes).map(([c, k]) => `${k}×${c}`).join(", ") : "";
  const published = r.published
    ? `${n(r.published.count)} in ${n((r.published.endedAt - r.published.startedAt) / 1000, 2)} s`
    : "—";
  return [
    loadName(r),
    r.connect ? `${n(r.connect.ready)} / ${n(r.connect.failed)} in ${secs(r.connect.ms)}` : "—",
    published,
    pct("core0"),
    pct("core1"),
    pct("server"),
    pct("clients"),
    pct("publisher"),
    pct("others"),
    s ? n((s.delivered + s.otherTexts) / Math.max(1, s.reads), 2) : "—",
    s ? `${n(s.emptySensorSeconds)} (${n(s.clientsWithEmptySecond)} clients)` : "—",
    s ? `${n(s.closed)}${codes ? ` (${codes})` : ""}` : "—",
    `${n(r.wallSeconds, 1)} s`,
  ].join(" | ");
}

/** Both tables, the machine line and any failures, as Markdown. */
export function overloadMarkdown(
  results: LoadResult[],
  options: { machine: string; pinned: boolean; spec: string },
): string {
  const lines = [
    `Machine: ${options.machine}.`,
    options.pinned
      ? "serve pinned to core 0 (taskset -c 0); clients and publisher on core 1 (taskset -c 1)."
      : "**taskset is missing: processes were NOT pinned; figures are not comparable.**",
    `${options.spec}`,
    "",
    "| load | server RSS connected → end of publishing → after drain | age of delivered " +
    "readings p50 / p99 | readings per client min / median | deliveries/s while publishing | " +
    "clients on the last value of every sensor: 2 s after publishing; after the drain | " +
    "fewest readings of one sensor in one second, any client |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...results.map((r) => `| ${mainRow(r)} |`),
    "",
    "CPU columns: percent of one core while publishing / while draining. A core's busy time " +
    "includes the kernel's loopback network work, which /proc does not charge to a process. " +
    "Messages per client read near 1: the clients kept up (no backlog in their sockets).",
    "",
    "| load | clients connected / failed | published | core 0 busy (serve) | core 1 busy " +
    "(clients, publisher) | serve process | clients process | publisher | other processes | " +
    "messages per client read | client-sensor-seconds with no reading | clients closed by the " +
    "server | wall time |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map((r) => `| ${detailRow(r)} |`),
  ];
  for (const r of results) {
    const others = Math.max(
      coreShare(r.connected, r.endOfPublish, "others") ?? 0,
      coreShare(r.endOfPublish, r.drained, "others") ?? 0,
    );
    if (others > 10) {
      lines.push("", `**${loadName(r)}: other processes used ${n(others)} % of a core: skewed.**`);
    }
    if (r.error) lines.push("", `**${loadName(r)} failed:** ${r.error}`);
    if (r.serverDied) lines.push(`serve died: ${r.serverDied}`);
  }
  return lines.join("\n") + "\n";
}
