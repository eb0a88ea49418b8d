/**
 * The options of `tail`, each declared once.
 * @module
 */
import { DEFAULT_STREAM_URL } from "../../tail/url.ts";
import { SPARKLINE_WIDTH } from "../../tail/view.ts";
import { intInRange } from "../parse.ts";
import { CONNECT_TIMEOUT, COUNT, JWT_SECRET, JWT_SECRET_FILE, SENSORS } from "./shared.ts";
import { option } from "./table.ts";

/** Every option of `tail`. */
export const TAIL_OPTIONS = {
  url: option({
    flags: "--url <url>",
    help: "WebSocket endpoint of serve",
    default: DEFAULT_STREAM_URL,
  }),
  token: option<string>({
    flags: "--token <jwt>",
    env: "SENSORSTREAM_TOKEN",
    help: "access token (the variable stays out of the process list; the flag does not)",
  }),
  tokenCommand: option<string>({
    flags: "--token-command <cmd>",
    env: "SENSORSTREAM_TOKEN_COMMAND",
    help: "shell command that prints a fresh token on stdout; run at start, before each " +
      "reconnect and before the token expires (needs --allow-run)",
  }),
  jwtSecret: { ...JWT_SECRET, help: "mint a token locally with the secret serve uses" },
  jwtSecretFile: JWT_SECRET_FILE,
  sensors: SENSORS,
  format: option<"table" | "json" | "line">({
    flags: "--format <format>",
    help: "table (terminal default), json (NDJSON, piped default), line",
    choices: ["table", "json", "line"],
  }),
  json: option<boolean>({ flags: "--json", help: "same as --format json" }),
  count: { ...COUNT, help: "exit after this many live readings" },
  history: option({
    flags: "--history <n>",
    help: "readings per sensor to ask the server's history for on connect, 0: none (default: " +
      `${SPARKLINE_WIDTH}, the sparkline width, on the table; 0 for json and line)`,
    parse: intInRange(0, 1_000_000),
  }),
  connectTimeout: {
    ...CONNECT_TIMEOUT,
    help: "give up when serve cannot be reached for this long",
  },
};

/** The variable that turns colours off (the no-color.org convention), read by tail's table. */
export const NO_COLOR_ENV = "NO_COLOR";
