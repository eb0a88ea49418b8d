/**
 * The options of `token`, each declared once; `path` is the `mintToken` option it sets.
 * @module
 */
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
