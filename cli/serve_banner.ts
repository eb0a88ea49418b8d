/**
 * What `serve` and `demo` print on stdout: where to connect and, in development mode, a token
 * and the command lines to use it. Tokens go in the environment of the printed commands, never
 * in their arguments (other users can read those in the process list).
 * @module
 */
import { redactUrl } from "../lib/secrets.ts";
import type { ServerHandle } from "../server/server.ts";
import type { CliIo } from "./io.ts";
import { SERVE_OPTIONS } from "./options/serve.ts";
import { TAIL_OPTIONS } from "./options/tail.ts";

/** The `tail` command line for a stream, the token in its environment variable. */
export function tailCommandLine(wsUrl: string, token: string): string {
  return `${TAIL_OPTIONS.token.env}=${token} deno task tail --url ${wsUrl}`;
}

/** A `command` line that irrigates V1 for 30 s through a stream, the token in the environment. */
export function irrigateCommandLine(wsUrl: string, token: string): string {
  return `${TAIL_OPTIONS.token.env}=${token} deno task command V1 irrigate --duration 30 ` +
    `--url ${wsUrl}`;
}

/** The `simulate` command line for the server's broker (credentials, if any, from the env). */
export function simulateCommandLine(server: Pick<ServerHandle, "mqttUrl" | "mqttAuth">): string {
  const { mqttUsername, mqttPassword } = SERVE_OPTIONS;
  const auth = server.mqttAuth
    ? ` (with ${mqttUsername.env} and ${mqttPassword.env} set as for serve)`
    : "";
  return `deno task simulate --mqtt-url ${redactUrl(server.mqttUrl)}${auth}`;
}

/** The dashboard's URL with the token in the fragment: browsers never send a fragment. */
export function dashboardUrl(httpUrl: string, token: string): string {
  return `${httpUrl}/#token=${token}`;
}

/** Prints where to connect; in dev mode, the generated token and a warning. */
export function printBanner(
  server: Pick<
    ServerHandle,
    "wsUrl" | "httpUrl" | "mqttUrl" | "embeddedBroker" | "mqttAuth" | "dev"
  >,
  io: CliIo,
): void {
  const { jwtSecret, jwksUrl } = SERVE_OPTIONS;
  const lines = [
    `sensorstream serving ${server.wsUrl}`,
    `Dashboard: ${server.httpUrl}/`,
    `MQTT broker: ${redactUrl(server.mqttUrl)}` + (server.embeddedBroker ? " (embedded)" : ""),
  ];
  if (server.dev) {
    lines.push(
      "",
      `WARNING: no ${jwtSecret.env} or ${jwksUrl.env} set: using a random secret for this run.`,
      `This is for development only; set ${jwtSecret.env} (>= 32 bytes) in production.`,
      `Token (valid 24 h):  ${server.dev.token}`,
      `Open the dashboard:  ${dashboardUrl(server.httpUrl, server.dev.token)}`,
      `WebSocket URL:       ${server.wsUrl}?token=${server.dev.token}`,
      `Tail it:             ${tailCommandLine(server.wsUrl, server.dev.token)}`,
      `Irrigate V1:         ${irrigateCommandLine(server.wsUrl, server.dev.token)}`,
    );
  }
  lines.push(`Publish test data:   ${simulateCommandLine(server)}`, "");
  io.stdout(lines.join("\n") + "\n");
}
