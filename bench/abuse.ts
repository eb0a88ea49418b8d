/**
 * `deno task abuse`: the abuse suite. Starts a fresh `serve` on loopback (embedded broker,
 * throttle off, 5 s idle timeout) as a subprocess and throws at it, phase by phase: fuzzed MQTT
 * payloads, a matrix of bad tokens, aborted handshakes and clients that send nothing but garbage.
 * Prints the command lines, the machine and a Markdown table of figures, one row per phase;
 * exits 1 when any phase's pass condition fails (2 on a bad flag).
 *
 *   deno task abuse [--seed N]
 */
import { mintToken } from "../server/token.ts";
import { fuzzPhase } from "./abuse_fuzz.ts";
import { floodPhase } from "./abuse_flood.ts";
import { detailsText, type PhaseResult, resultsTable, seconds } from "./abuse_report.ts";
import { resetsPhase } from "./abuse_resets.ts";
import { type ServeProcess, spawnServe } from "./abuse_serve.ts";
import { tokensPhase } from "./abuse_tokens.ts";

/** Default PRNG seed of the fuzzed payloads (printed, so a run can be repeated). */
const DEFAULT_SEED = 20_251_206;
const SECRET = "abuse-secret-abuse-secret-abuse-secret-0";
const ISSUER = "https://id.abuse.example";
const AUDIENCE = "sensorstream-abuse";
const IDLE_TIMEOUT_S = 5;
const encoder = new TextEncoder();
const write = (s: string) => Deno.stdout.writeSync(encoder.encode(s));

/** Parses `--seed N`; throws `TypeError` with the usage otherwise. */
function parseFlags(argv: readonly string[]): { seed: number } {
  let seed = DEFAULT_SEED;
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (argv[i] !== "--seed" || !Number.isSafeInteger(value)) {
      const got = argv.slice(i, i + 2).join(" ");
      throw new TypeError(`usage: deno task abuse [--seed N] (got ${JSON.stringify(got)})`);
    }
    seed = value;
  }
  return { seed };
}

function machine(): string {
  const cpu = new TextDecoder().decode(
    new Deno.Command("cat", { args: ["/proc/cpuinfo"] }).outputSync().stdout,
  );
  const model = /model name\s*:\s*(.+)/.exec(cpu)?.[1]?.trim() ?? "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (${model}), ${Deno.build.os} ${Deno.osRelease()} ` +
    `${Deno.build.arch} (${Deno.build.target}), Deno ${Deno.version.deno}`;
}

/** Runs one phase; a phase that throws is a failed row, not an aborted suite. */
async function run(
  name: string,
  serve: ServeProcess,
  phase: () => Promise<PhaseResult>,
): Promise<PhaseResult> {
  const started = performance.now();
  let result: PhaseResult;
  try {
    result = await phase();
  } catch (error) {
    const message = error instanceof Error ? error.stack ?? error.message : String(error);
    result = {
      name,
      load: "",
      result: "phase crashed",
      seconds: 0,
      pass: false,
      failures: [message],
      details: [],
    };
  }
  result.seconds = (performance.now() - started) / 1000;
  if (!serve.alive) {
    result.pass = false;
    result.failures.push("serve is no longer running");
  }
  write(`  ${result.name}: ${result.pass ? "pass" : "FAIL"} (${seconds(result.seconds)})\n`);
  return result;
}

/** The phases, in order, each a name and how to run it against `serve`. */
function phases(seed: number): Array<[string, (serve: ServeProcess) => Promise<PhaseResult>]> {
  const token = () =>
    mintToken(SECRET, { sub: "abuse", ttlSec: 3600, issuer: ISSUER, audience: AUDIENCE });
  return [
    ["1. Fuzzed MQTT payloads", async (s) => fuzzPhase(s, { seed, token: await token() })],
    [
      "2. Token matrix",
      (s) => tokensPhase(s, { secret: SECRET, issuer: ISSUER, audience: AUDIENCE }),
    ],
    [
      "3. Aborted handshakes",
      async (s) => resetsPhase(s, { token: await token(), idleTimeoutS: IDLE_TIMEOUT_S }),
    ],
    ["4. Garbage-sending clients", async (s) => floodPhase(s, { seed, token: await token() })],
  ];
}

async function main(argv: readonly string[]): Promise<number> {
  const { seed } = parseFlags(argv);
  const started = performance.now();
  const serve = await spawnServe({
    env: { JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
    flags: [
      ...["--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0", "--rate-limit", "0"],
      ...["--log-level", "warn", "--idle-timeout", String(IDLE_TIMEOUT_S)],
    ],
  });
  write(
    `# sensorstream abuse suite\n\nserve: ${serve.wsUrl}, MQTT ${serve.mqttUrl}, pid ${serve.pid}\n`,
  );
  const results: PhaseResult[] = [];
  let fdsAtEnd = { total: 0, sockets: 0 };
  let stopped: Awaited<ReturnType<ServeProcess["stop"]>>;
  try {
    for (const [name, phase] of phases(seed)) {
      results.push(await run(name, serve, () => phase(serve)));
    }
    if (serve.alive) fdsAtEnd = serve.fds();
  } finally {
    stopped = await serve.stop();
  }
  const passed = results.length === 4 && results.every((r) => r.pass);
  write(
    [
      "",
      `Command: \`deno task abuse --seed ${seed}\``,
      `Serve: \`${serve.commandLine}\``,
      `Machine: ${machine()}`,
      "",
      resultsTable(results),
      "",
      detailsText(results),
      `serve at the end of the run: ${fdsAtEnd.total} open fds (${fdsAtEnd.sockets} sockets); ` +
      `SIGTERM -> exit code ${stopped.code}${stopped.signal ? ` (${stopped.signal})` : ""} in ` +
      `${stopped.ms} ms; ${serve.stderr.length} lines on stderr` +
      (serve.stderr.length ? `:\n${stderrDigest(serve.stderr)}` : "."),
      "",
      `Total: ${seconds((performance.now() - started) / 1000)}; ${
        passed ? "every phase passed" : "FAILED"
      }.`,
      "",
    ].join("\n"),
  );
  return passed ? 0 : 1;
}

/** Stderr lines, grouped by their text with numbers and ids blanked, most frequent first. */
function stderrDigest(lines: readonly string[]): string {
  const groups = new Map<string, { count: number; example: string }>();
  for (const line of lines) {
    const key = line.replace(/\d+/g, "#").replace(/"[^"]*"/g, '"…"').slice(0, 120);
    const g = groups.get(key) ?? { count: 0, example: line };
    g.count++;
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count).slice(0, 15)
    .map((g) => `    ${g.count} × ${g.example.slice(0, 300)}`).join("\n");
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    write(`${error instanceof TypeError ? error.message : (error as Error).stack}\n`);
    code = error instanceof TypeError ? 2 : 1;
  }
  Deno.exit(code);
}
