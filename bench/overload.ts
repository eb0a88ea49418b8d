/**
 * `deno task bench --overload`: the two overload loads, 1,000 and 10,000 clients × 500
 * readings/s over 5 sensors, 10 s of publishing then 5 s to drain, each against a fresh `serve`
 * (embedded broker, throttle off) pinned to one core. Prints the table with the machine.
 *
 *   deno task bench --overload [--clients 1000,10000] [--rate 500] [--seconds 10] [--json]
 * @module
 */
import { canPin, machine, otherLoad, pinSelf, write } from "./bench_procs.ts";
import { type LoadResult, type LoadSpec, runLoad } from "./overload_run.ts";
import { loadName, overloadMarkdown } from "./overload_report.ts";

/** The loads unless flags say otherwise. */
export function overloadSpecs(argv: string[]): LoadSpec[] {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const clients = (value("--clients") ?? "1000,10000").split(",").map(Number);
  const rate = Number(value("--rate") ?? 500);
  const publishSeconds = Number(value("--seconds") ?? 10);
  for (const v of [...clients, rate, publishSeconds]) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(
        `--overload takes positive integers: --clients N[,N] --rate R --seconds S (got ${v})`,
      );
    }
  }
  return clients.map((c) => ({
    clients: c,
    rate,
    sensors: 5,
    publishSeconds,
    checkSeconds: 2,
    drainSeconds: 5,
  }));
}

/** Runs the loads one after the other; returns the exit code (1 when one failed). */
export async function runOverload(argv: string[]): Promise<number> {
  const specs = overloadSpecs(argv);
  const pinned = canPin() && pinSelf(1);
  const began = performance.now();
  const before = await otherLoad(1_000);
  const results: LoadResult[] = [];
  for (const spec of specs) {
    Deno.stderr.writeSync(new TextEncoder().encode(`overload: ${loadName({ spec })} ...\n`));
    results.push(await runLoad(spec));
  }
  const s = specs[0]!;
  write(overloadMarkdown(results, {
    machine: machine(),
    pinned,
    spec: `${s.sensors} sensors, ${s.publishSeconds} s of publishing, then ${s.drainSeconds} s ` +
      `to drain; serve --rate-limit 0, embedded broker. Age = client receive time − the ` +
      `reading's timestamp (set by the publisher). Total wall time ` +
      `${((performance.now() - began) / 1000).toFixed(1)} s. Machine busy before the run: ` +
      `${before.toFixed(0)} % of a core${
        before > 10 ? " (**not idle: figures are skewed**)" : ""
      }.`,
  }));
  if (argv.includes("--json")) write(JSON.stringify(results, null, 1) + "\n");
  return results.some((r) => r.error) ? 1 : 0;
}
