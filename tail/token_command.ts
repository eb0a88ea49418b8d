/**
 * Tokens from a command, the credential-helper convention: the command runs through the shell
 * and prints a fresh token on stdout. Its output is never shown: a failure is told by exit
 * code and the last line of its stderr, with the token (if it printed one) taken out.
 * @module
 */
import { clipForLog, escapeControl } from "../lib/sanitize.ts";
import type { TokenSource } from "./refresh.ts";

/** How long the command may take, ms. */
export const TOKEN_COMMAND_TIMEOUT_MS = 10_000;
/** Longest token taken, bytes (the protocol's limit on a `refresh` token). */
export const MAX_TOKEN_BYTES = 8 * 1024;
/** Stderr kept to explain a failure, bytes. */
const MAX_STDERR_BYTES = 4 * 1024;

/** Options of {@link commandTokenSource}. */
export interface TokenCommandOptions {
  /** Give up (and stop the command) after this, ms. Default {@link TOKEN_COMMAND_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** The shell and its flag before the command. Default `sh -c` (`cmd /d /s /c` on Windows). */
  shell?: readonly string[];
}

/**
 * A token source that runs `command` each time it is asked and returns its stdout, trimmed.
 * Rejects with an `Error` that says why (exit code, timeout, no token printed, no permission
 * to run programs), never with the command's stdout.
 */
export function commandTokenSource(
  command: string,
  options: TokenCommandOptions = {},
): TokenSource {
  const timeoutMs = options.timeoutMs ?? TOKEN_COMMAND_TIMEOUT_MS;
  const shell = options.shell ?? (Deno.build.os === "windows" ? ["cmd", "/d", "/s", "/c"] : [
    "sh",
    "-c",
  ]);
  return (signal) => run(command, { timeoutMs, shell, signal });
}

async function run(
  command: string,
  o: { timeoutMs: number; shell: readonly string[]; signal: AbortSignal | undefined },
): Promise<string> {
  const stop = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort();
  }, o.timeoutMs);
  const onAbort = () => stop.abort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (o.signal?.aborted) throw new Error("the token command was not run: stopping");
    const child = spawn(command, o.shell, stop.signal);
    const [out, err, status] = await Promise.all([
      readCapped(child.stdout, MAX_TOKEN_BYTES, stop),
      readCapped(child.stderr, MAX_STDERR_BYTES, stop),
      child.status,
    ]);
    const token = new TextDecoder().decode(out.bytes).trim();
    const said = lastLine(new TextDecoder().decode(err.bytes), token);
    if (timedOut) throw new Error(`the token command gave no token within ${o.timeoutMs / 1_000}s`);
    if (out.over) throw new Error(`the token command printed more than ${MAX_TOKEN_BYTES} bytes`);
    if (!status.success) {
      const how = status.signal ? `was stopped by ${status.signal}` : `exited with ${status.code}`;
      throw new Error(`the token command ${how}${said ? `: ${said}` : ""}`);
    }
    if (token === "") throw new Error("the token command printed no token on stdout");
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new Error(
        "the token command printed something that is not a token on stdout (a JWT is one line " +
          "of letters, digits, '-', '_' and '.')",
      );
    }
    return token;
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onAbort);
  }
}

function spawn(command: string, shell: readonly string[], signal: AbortSignal): Deno.ChildProcess {
  const [program, ...flags] = shell;
  try {
    return new Deno.Command(program!, {
      args: [...flags, command],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `the token command cannot run: tail may not run programs (deno run needs ` +
          `--allow-run=${program})`,
        { cause: error },
      );
    }
    throw new Error(`the token command cannot run: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Reads `stream` keeping at most `max` bytes. More than that aborts `stop` (which stops the
 * command); once `stop` aborts, reading ends, even while something the command started still
 * holds the pipe open.
 */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  max: number,
  stop: AbortController,
): Promise<{ bytes: Uint8Array; over: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let over = false;
  const reader = stream.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  stop.signal.addEventListener("abort", cancel, { once: true });
  if (stop.signal.aborted) cancel();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = max - size;
      if (value.length > room) {
        chunks.push(value.subarray(0, room));
        size = max;
        over = true;
        stop.abort();
        break;
      }
      chunks.push(value);
      size += value.length;
    }
  } finally {
    stop.signal.removeEventListener("abort", cancel);
    cancel();
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, over };
}

/** The last non-empty line of `text`, escaped and clipped, with `secret` taken out. */
function lastLine(text: string, secret: string): string {
  let line = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").at(-1) ?? "";
  if (secret !== "") line = line.replaceAll(secret, "[token]");
  return escapeControl(clipForLog(line));
}
