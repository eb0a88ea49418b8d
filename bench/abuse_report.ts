/**
 * What each abuse phase reports, and the Markdown the suite prints. Pure formatting.
 * @module
 */

/** One phase's outcome. */
export interface PhaseResult {
  /** Short name, e.g. "1. Fuzzed MQTT payloads". */
  name: string;
  /** What was thrown at serve. */
  load: string;
  /** The figures that matter, in a line. */
  result: string;
  /** Wall time of the phase, seconds. */
  seconds: number;
  /** Whether every pass condition held. */
  pass: boolean;
  /** The pass conditions that failed, said with their numbers. */
  failures: string[];
  /** Further figures printed below the table. */
  details: string[];
}

/** A checker that records failed conditions with their message. */
export function conditions(): {
  failures: string[];
  check(ok: boolean, message: string): void;
} {
  const failures: string[] = [];
  return { failures, check: (ok, message) => void (ok || failures.push(message)) };
}

/** Seconds with one decimal, or two below 1 s. */
export const seconds = (s: number): string => `${s.toFixed(s < 1 ? 2 : 1)} s`;

/** `1234567` as `1,234,567`. */
export const n = (value: number): string => value.toLocaleString("en-US");

/** A Markdown table with aligned columns. */
export function markdownTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((r) => r.map((c) => c.replaceAll("|", "\\|")));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => [...(r[i] ?? "")].length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join("\n");
}

/** The results table: one row per phase. */
export function resultsTable(results: readonly PhaseResult[]): string {
  return markdownTable(
    ["Phase", "Load", "Result", "Time", "Pass"],
    results.map((
      r,
    ) => [r.name, r.load, r.result, seconds(r.seconds), r.pass ? "yes" : "**NO**"]),
  );
}

/** Details and failures under the table, one section per phase. */
export function detailsText(results: readonly PhaseResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`**${r.name}**`, "");
    for (const d of r.details) out.push(`- ${d}`);
    for (const f of r.failures) out.push(`- FAILED: ${f}`);
    out.push("");
  }
  return out.join("\n");
}

/** `{a: 1, b: 2}` as `a 1, b 2`, largest first. */
export function breakdown(counts: ReadonlyMap<string, number>): string {
  const entries = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k} ${n(v)}`).join(", ");
}
