/**
 * Where a WebSocket client of the stream (`tail`, `command`) connects and with what: the `--url`
 * it was given, and the token given (`--token`, a `?token=` in `--url`, `SENSORSTREAM_TOKEN`) and
 * the secret to mint one with, read from their shared options.
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { normalizeStreamUrl, tokenInUrl } from "../tail/url.ts";
import { UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";
import { TAIL_OPTIONS } from "./options/tail.ts";
import { fromCommandLine } from "./options/table.ts";
import { resolveSecret } from "./secrets.ts";

/** The `--url` as a stream URL; a usage error saying why when it is not one. */
export function streamUrlOf(text: string): URL {
  try {
    return normalizeStreamUrl(text);
  } catch (error) {
    throw new UsageError(`--url: ${(error as Error).message}`, { cause: error });
  }
}

/** The values of the token and secret options (the same declarations in `tail` and `command`). */
export interface AccessFlags {
  token?: string | undefined;
  jwtSecret?: string | undefined;
  jwtSecretFile?: string | undefined;
}

/** A given token, where it came from, and the secret (resolved either way). */
export interface StreamAccess {
  given: string | undefined;
  /** How the user would name where the given token came from. */
  from: string;
  secret: string | undefined;
}

/**
 * The token given and the secret. A `?token=` in `--url` (the banner of serve prints one) comes
 * after `--token` and before the variable; it is sent as a header instead.
 */
export async function streamAccessOf(
  cmd: Command,
  flags: AccessFlags,
  context: { url: URL; io: CliIo },
): Promise<StreamAccess> {
  const o = TAIL_OPTIONS;
  const typed = fromCommandLine(cmd, "token");
  const inUrl = typed ? undefined : tokenInUrl(context.url);
  const given = await resolveSecret({ value: o.token }, {
    value: typed ? flags.token : inUrl ?? flags.token,
    fromCli: typed,
  }, context.io);
  // Resolved even when a token is given, so a secret typed on the command line is warned about.
  const secret = await resolveSecret({ value: o.jwtSecret, file: o.jwtSecretFile }, {
    value: flags.jwtSecret,
    fromCli: fromCommandLine(cmd, "jwtSecret"),
    file: flags.jwtSecretFile,
  }, context.io);
  const from = typed ? "--token" : inUrl ? "a ?token= in --url" : o.token.env ?? "--token";
  return { given, from, secret };
}
