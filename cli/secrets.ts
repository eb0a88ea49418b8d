/**
 * Secrets on the command line: each can be given as a flag, an environment variable, or a file
 * (`--jwt-secret-file` / `JWT_SECRET_FILE`, the container convention). A flag puts the secret
 * in the process list, so it gets a warning. The names come from the options' declarations.
 * @module
 */
import { redactUrl, secretFromFileText } from "../lib/secrets.ts";
import { UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";
import { MQTT_PASSWORD, MQTT_PASSWORD_FILE, MQTT_URL } from "./options/shared.ts";
import { fromCommandLine, optionName, type OptionNames } from "./options/table.ts";
import type { Command } from "@commander-js/extra-typings";

/** Where a secret came from. */
export interface SecretInput {
  /** The secret itself (from the flag or the environment). */
  value: string | undefined;
  /** True when `value` came from the command line. */
  fromCli: boolean;
  /** Path of a file holding it (from the file option or its variable). */
  file?: string | undefined;
}

/** How messages name a secret option: its flag and, for the advice, its variable. */
function names(spec: OptionNames): { flag: string; env: string } {
  return { flag: /--[\w-]+/.exec(spec.flags)![0], env: spec.env ?? "" };
}

/**
 * The secret from its value or its file (one trailing line break dropped). Warns on stderr
 * when it was typed on the command line. Throws `UsageError` when both are given, or the file
 * cannot be read or is empty; messages name the path, never the content.
 */
export async function resolveSecret(
  spec: { value: OptionNames; file?: OptionNames | undefined },
  input: SecretInput,
  io: CliIo,
): Promise<string | undefined> {
  const { flag, env } = names(spec.value);
  const fileName = spec.file ? optionName(spec.file) : "";
  if (input.value !== undefined && input.file !== undefined) {
    throw new UsageError(`${optionName(spec.value)} and ${fileName} are both set; give it once`);
  }
  if (input.value !== undefined) {
    if (input.fromCli) {
      const alternative = spec.file ? ` or ${names(spec.file).flag}` : "";
      io.stderr(
        `warning: ${flag} puts the secret in the process list, where other users of this ` +
          `machine can read it (ps); use ${env}${alternative} instead\n`,
      );
    }
    return input.value;
  }
  if (input.file === undefined) return undefined;
  const secret = secretFromFileText(await readFile(input.file, fileName));
  if (secret === "") throw new UsageError(`${fileName}: '${input.file}' is empty`);
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
export function warnOnUrlSecret(
  spec: OptionNames,
  url: string | undefined,
  advice: string,
  io: CliIo,
): void {
  if (url === undefined || redactUrl(url) === url) return;
  io.stderr(
    `warning: ${names(spec).flag} carries credentials, which other users of this machine can ` +
      `read in the process list (ps); ${advice}\n`,
  );
}

/**
 * The broker password of a command with the shared MQTT options (`serve`, `simulate`): from its
 * value or its file, with a warning for credentials typed on the command line, in the URL too.
 */
export async function mqttPasswordOf(
  cmd: Command,
  values: { mqttUrl?: string; mqttPassword?: string; mqttPasswordFile?: string },
  io: CliIo,
): Promise<string | undefined> {
  if (fromCommandLine(cmd, "mqttUrl")) {
    warnOnUrlSecret(MQTT_URL, values.mqttUrl, "give them in the environment instead", io);
  }
  return await resolveSecret({ value: MQTT_PASSWORD, file: MQTT_PASSWORD_FILE }, {
    value: values.mqttPassword,
    fromCli: fromCommandLine(cmd, "mqttPassword"),
    file: values.mqttPasswordFile,
  }, io);
}
