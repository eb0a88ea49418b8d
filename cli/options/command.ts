/**
 * The arguments and options of `command`, each declared once. How it reaches the server and
 * where its token comes from are tail's options, shared rather than declared again; the
 * subject of a minted token is token's `--sub`, and `--duration` is simulate's flag with the
 * bounds of irrigate's `duration_s`.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { hasControl } from "../../lib/sanitize.ts";
import { SENSOR_ID_PATTERN } from "../../protocol/mod.ts";
import { parseDuration } from "../parse.ts";
import { SIMULATE_OPTIONS } from "./simulate.ts";
import { TAIL_OPTIONS } from "./tail.ts";
import { option } from "./table.ts";
import { TOKEN_OPTIONS } from "./token.ts";

export { parseCommandAction } from "./token.ts";

/** How long irrigate opens the valve when `--duration` is not given, s. */
export const DEFAULT_DURATION_S = 30;
/** Longest `--duration`, s (irrigate's `duration_s`). */
export const MAX_DURATION_S = 3_600;
/** Subject of a token that `command` mints with the secret (the server's `issued_by`). */
export const MINTED_SUB = "command";

/** Every option of `command`. */
export const COMMAND_OPTIONS = {
  url: TAIL_OPTIONS.url,
  token: {
    ...TAIL_OPTIONS.token,
    help: "access token with the commands claim for the action, e.g. from " +
      "`sensorstream token --commands irrigate` (the variable stays out of the process list; " +
      "the flag does not)",
  },
  jwtSecret: {
    ...TAIL_OPTIONS.jwtSecret,
    help: "mint a token locally with the secret serve uses; it may send only this action to " +
      "only this sensor",
  },
  jwtSecretFile: TAIL_OPTIONS.jwtSecretFile,
  sub: {
    ...TOKEN_OPTIONS.sub,
    help: "subject of the token minted with the secret: who the server says issued the command",
    default: MINTED_SUB,
    path: undefined,
  },
  duration: {
    ...SIMULATE_OPTIONS.duration,
    help: `irrigate: how long the valve stays open, whole seconds from 1 to ${MAX_DURATION_S} ` +
      "(e.g. 30, 90s, 10m)",
    parse: parseIrrigateDuration,
    default: DEFAULT_DURATION_S,
    defaultText: `${DEFAULT_DURATION_S}s`,
    path: undefined,
  },
  id: option<string>({
    flags: "--id <id>",
    help: "the command's id, 1 to 64 characters, echoed in every status (default: 8 random " +
      "hex digits)",
    parse: parseCommandId,
  }),
  json: { ...TAIL_OPTIONS.json, help: "print each server message about the command as JSON" },
  connectTimeout: {
    ...TAIL_OPTIONS.connectTimeout,
    help: "give up when serve cannot be reached, or does not answer the command, for this long",
  },
};

/** Parses a sensor id argument. */
export function parseSensorId(text: string): string {
  if (!SENSOR_ID_PATTERN.test(text)) {
    throw new InvalidArgumentError(
      `'${text}' is not a sensor id; use 1 to 64 letters, digits, '_' or '-' (e.g. V1)`,
    );
  }
  return text;
}

/** Parses `--duration` into whole seconds from 1 to {@link MAX_DURATION_S}. */
export function parseIrrigateDuration(text: string): number {
  let ms: number | undefined;
  try {
    ms = parseDuration(text);
  } catch { /* worded below */ }
  if (ms === undefined || ms % 1_000 !== 0 || ms < 1_000 || ms > MAX_DURATION_S * 1_000) {
    throw new InvalidArgumentError(
      `'${text}' is not a whole number of seconds from 1 to ${MAX_DURATION_S} ` +
        "(e.g. 30, 90s, 10m)",
    );
  }
  return ms / 1_000;
}

/** Parses `--id`: 1 to 64 characters, none of them a control character. */
export function parseCommandId(text: string): string {
  if (text.length < 1 || text.length > 64 || hasControl(text)) {
    throw new InvalidArgumentError(
      "the id must be 1 to 64 characters without control characters",
    );
  }
  return text;
}
