/**
 * The options of `token`, each declared once; `path` is the `mintToken` option it sets.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { COMMAND_ACTIONS, type CommandAction } from "../../protocol/mod.ts";
import { parseLifetime } from "../parse.ts";
import { AUDIENCE_ENV, ISSUER_ENV, JWT_SECRET, JWT_SECRET_FILE, SENSORS } from "./shared.ts";
import { option } from "./table.ts";

/** Every option of `token`. */
export const TOKEN_OPTIONS = {
  sub: option({
    flags: "--sub <subject>",
    help: "subject: who the token is for",
    default: "dev",
    path: "sub",
  }),
  ttl: option({
    flags: "--ttl <duration>",
    help: "lifetime, e.g. 30m, 8h, 7d",
    parse: parseLifetime,
    default: 3_600_000,
    defaultText: "1h",
    path: "ttlSec",
    toConfig: (ms) => ms / 1000,
  }),
  sensors: {
    ...SENSORS,
    help: "only these sensors, comma-separated (default: all)",
    path: "sensors",
  },
  commands: option({
    flags: "--commands <actions>",
    help:
      `actions the token may send as commands, comma-separated: ${COMMAND_ACTIONS.join(", ")} ` +
      "(default: none); with --sensors, only to those sensors",
    parse: parseCommandActions,
    path: "commands",
  }),
  jwtSecret: { ...JWT_SECRET, help: "the secret serve uses (visible in ps: prefer the env)" },
  jwtSecretFile: JWT_SECRET_FILE,
  issuer: option<string>({
    flags: "--issuer <iss>",
    env: ISSUER_ENV,
    help: "iss claim",
    path: "issuer",
  }),
  audience: option<string>({
    flags: "--audience <aud>",
    env: AUDIENCE_ENV,
    help: "aud claim",
    path: "audience",
  }),
};

/** Parses one command action; throws `InvalidArgumentError` naming the valid ones. */
export function parseCommandAction(text: string): CommandAction {
  const action = text.trim();
  if (!(COMMAND_ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidArgumentError(
      `'${text}' is not a command action; use ${COMMAND_ACTIONS.join(", ")}`,
    );
  }
  return action as CommandAction;
}

/** Parses `irrigate,…` into a de-duplicated list of command actions. */
export function parseCommandActions(text: string): CommandAction[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) {
    throw new InvalidArgumentError(
      `'${text}' names no action; use ${COMMAND_ACTIONS.join(", ")}, comma-separated`,
    );
  }
  return [...new Set(parts.map(parseCommandAction))];
}
