/**
 * `deno task compile`: builds dist/sensorstream, one executable with every subcommand and
 * narrow permissions baked in. `deno compile` needs Deno's slim runtime (denort): it downloads
 * it on first use, or takes a local copy from DENORT_BIN on machines without internet access.
 */

/** Permissions baked into the binary: network (server, broker, clients) and env (config). */
export const COMPILE_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  // The machine's name, for the `instance` a client is told it landed on.
  "--allow-sys=hostname",
  // `serve --workers`: SO_REUSEPORT is behind this flag on Deno 2.9.
  "--unstable-net",
  // Secret files (JWT_SECRET_FILE, MQTT_PASSWORD_FILE) where containers and systemd put them.
  "--allow-read=/run/secrets,/run/credentials",
];

/** Where the runtime would be cached after a successful download, or undefined if unknown. */
export function cachedDenortPath(): string | undefined {
  const dir = Deno.env.get("DENO_DIR") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache/deno` : undefined);
  if (!dir) return undefined;
  const target = `${Deno.build.arch}-${
    Deno.build.os === "linux"
      ? "unknown-linux-gnu"
      : Deno.build.target.split("-").slice(1).join("-")
  }`;
  return `${dir}/dl/release/v${Deno.version.deno}/denort-${target}.zip`;
}

/** Why `deno compile` cannot run here, or undefined when a runtime is available. */
export function denortUnavailableReason(): string | undefined {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) {
    try {
      return Deno.statSync(bin).isFile ? undefined : `DENORT_BIN=${bin} is not a file`;
    } catch {
      return `DENORT_BIN=${bin} does not exist`;
    }
  }
  const cached = cachedDenortPath();
  if (cached) {
    try {
      if (Deno.statSync(cached).isFile) return undefined;
    } catch { /* not cached */ }
  }
  return "denort (Deno's slim runtime) is not cached and DENORT_BIN is unset";
}

/** Result of {@link buildBinary}. */
export type BuildResult =
  | { ok: true }
  | { ok: false; runtimeMissing: boolean; message: string };

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** `serve --workers` loads this as a Web Worker: not imported, so included by name. */
const WORKER = new URL("../server/worker_main.ts", import.meta.url).pathname;

/** Runs `deno compile` for `main.ts` into `out`. `runtimeMissing`: denort could not be had. */
export async function buildBinary(
  out: string,
  options: { check?: boolean } = {},
): Promise<BuildResult> {
  const check = options.check === false ? ["--no-check"] : [];
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...check, ...COMPILE_PERMISSIONS, "--include", WORKER, "--output", out, MAIN],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code === 0) return { ok: true };
  const message = new TextDecoder().decode(stderr).split("\nStack backtrace:")[0]!;
  const runtimeMissing = !Deno.env.get("DENORT_BIN") &&
    /dl\.deno\.land|denort|dns error|Setting up base binary/i.test(message);
  return { ok: false, runtimeMissing, message };
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/sensorstream";
  const write = (s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s));
  const bad = Deno.env.get("DENORT_BIN") ? denortUnavailableReason() : undefined;
  if (bad) {
    write(`error: ${bad}; point DENORT_BIN at the denort binary for Deno ${Deno.version.deno}\n`);
    Deno.exit(1);
  }
  const result = await buildBinary(out);
  if (!result.ok) {
    write(result.message + "\n");
    if (result.runtimeMissing) {
      write(
        "\nerror: deno compile could not get denort, Deno's slim runtime, which it downloads on " +
          "first use.\nOn a machine without internet access, copy denort for Deno " +
          `${Deno.version.deno} (denort-<target>.zip from the Deno release, unzipped) here ` +
          "and run:\n  DENORT_BIN=/path/to/denort deno task compile\n",
      );
    }
    Deno.exit(1);
  }
  write(`built ${out}\n`);
}
