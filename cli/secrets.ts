/**
 * Secrets on the command line: each can be given as a flag, an environment variable, or a file
 * (`--jwt-secret-file` / `JWT_SECRET_FILE`, the container convention). A flag puts the secret
 * in the process list, so it gets a warning.
 * @module
 */
import { redactUrl, secretFromFileText } from "../lib/secrets.ts";
import { UsageError } from "../server/errors.ts";
import type { CliIo } from "./io.ts";

/** A secret's flag and environment variable; the file variants add `-file` / `_FILE`. */
export interface SecretSpec {
  /** e.g. `--jwt-secret`. */
  flag: string;
  /** e.g. `JWT_SECRET`. */
  env: string;
}

/** The JWT signing secret of serve, tail and token. */
export const JWT_SECRET: SecretSpec = { flag: "--jwt-secret", env: "JWT_SECRET" };
/** The MQTT password of serve, demo and simulate. */
export const MQTT_PASSWORD: SecretSpec = { flag: "--mqtt-password", env: "MQTT_PASSWORD" };
/** The access token of tail. */
export const TOKEN: SecretSpec = { flag: "--token", env: "SENSORSTREAM_TOKEN" };

/** Where a secret came from, as commander reports it. */
export interface SecretInput {
  /** The secret itself (from the flag or the environment). */
  value: string | undefined;
  /** True when `value` came from the command line. */
  fromCli: boolean;
  /** Path of a file holding it (from `--…-file` or `…_FILE`). */
  file?: string | undefined;
}

/**
 * The secret from its value or its file (one trailing line break dropped). Warns on stderr
 * when it was typed on the command line. Throws `UsageError` when both are given, or the file
 * cannot be read or is empty; messages name the path, never the content.
 */
export async function resolveSecret(
  spec: SecretSpec,
  input: SecretInput,
  io: CliIo,
): Promise<string | undefined> {
  const fileFlag = `${spec.flag}-file / ${spec.env}_FILE`;
  if (input.value !== undefined && input.file !== undefined) {
    throw new UsageError(
      `${spec.flag} / ${spec.env} and ${fileFlag} are both set; give the secret once`,
    );
  }
  if (input.value !== undefined) {
    if (input.fromCli) {
      io.stderr(
        `warning: ${spec.flag} puts the secret in the process list, where other users of this ` +
          `machine can read it (ps); use ${spec.env} or ${spec.flag}-file instead\n`,
      );
    }
    return input.value;
  }
  if (input.file === undefined) return undefined;
  const secret = secretFromFileText(await readFile(input.file, fileFlag));
  if (secret === "") throw new UsageError(`${fileFlag}: '${input.file}' is empty`);
  return secret;
}

async function readFile(path: string, option: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.NotCapable
      ? `this program may not read it; run it with --allow-read=${path}, or put the file in ` +
        "/run/secrets (which the tasks and the compiled binary may read)"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied (check the file's owner and mode)"
      : (error as Error).name;
    throw new UsageError(`${option}: cannot read '${path}': ${why}`, { cause: error });
  }
}

/**
 * Warns when a URL typed on the command line carries a secret (a password, a user-name token or
 * a query value): like a secret flag, it is in the process list.
 */
export function warnOnUrlSecret(flag: string, url: string | undefined, io: CliIo): void {
  if (url === undefined || redactUrl(url) === url) return;
  io.stderr(
    `warning: ${flag} carries credentials, which other users of this machine can read in the ` +
      `process list (ps); pass them in MQTT_USERNAME and MQTT_PASSWORD (or --mqtt-password-file) ` +
      `instead\n`,
  );
}
