/**
 * `demo`: `serve` with its embedded broker and the simulator in one process, and a banner
 * that says where to look. The first command a newcomer runs.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { redactUrl } from "../lib/secrets.ts";
import { COMMAND_ACTIONS, DEFAULT_SENSORS } from "../protocol/mod.ts";
import { DEFAULT_CONFIG } from "../server/config.ts";
import { mintToken } from "../server/token.ts";
import { type Outage, runSimulator } from "../sim/mod.ts";
import type { CliContext } from "./context.ts";
import { DEMO_OPTIONS } from "./options/demo.ts";
import { addOptions, valuesOf } from "./options/table.ts";
import { dashboardUrl, irrigateCommandLine, tailCommandLine } from "./serve_banner.ts";
import { loggerFor, serveOptionsOf, serveUntilSignal } from "./serve_command.ts";
import { startServing } from "./serve_workers.ts";

/**
 * The demo's outage, so a newcomer sees staleness: V5 silent from 30 s in, for at least 30 s
 * and twice as long as `serve` waits before calling it stale (the larger of `staleAfterMs` and
 * three of its intervals), so it is stale for a while and then live again.
 */
export function demoOutage(staleAfterMs: number, intervalMs: number): Required<Outage> {
  const staleAfter = Math.max(staleAfterMs, 3 * intervalMs);
  return { sensorId: "V5", startMs: 30_000, durationMs: Math.max(30_000, 2 * staleAfter) };
}

/** `V5 goes silent 30 s in, for 30 s …`: what the banner says about the outage. */
export function outageText(outage: Required<Outage>): string {
  const s = (ms: number) => `${Math.round(ms / 1_000)} s`;
  return `${outage.sensorId} goes silent ${s(outage.startMs)} in, for ${s(outage.durationMs)}: ` +
    "watch it turn stale, then live again";
}

/** Builds the `demo` subcommand. */
export function demoCommand(ctx: CliContext): Command {
  const cmd = new Command("demo")
    .description("Run serve (embedded broker) and the simulator together, and show where to look.")
    .addHelpText(
      "after",
      `
The simulator stops one sensor for a while (V5, from 30 s in, for 30 s or more), so that you
see serve mark it stale and then live again.

Examples:
  $ deno task demo                       # then paste the printed tail command in a 2nd terminal
  $ deno task demo --port 8080 --mqtt-port 1884 --sim-interval 200ms`,
    );
  addOptions(cmd, DEMO_OPTIONS, ctx);
  return cmd
    .action(async (_flags, command) => {
      const io = ctx.io;
      const flags = valuesOf(command as unknown as Command, DEMO_OPTIONS);
      const logger = loggerFor(flags, io);
      const options = await serveOptionsOf(command as unknown as Command, io);
      const server = await startServing(options, { workers: flags.workers, logger });
      const outage = demoOutage(
        options.stream?.staleAfterMs ?? DEFAULT_CONFIG.stream.staleAfterMs,
        flags.simInterval,
      );
      // The demo's token may irrigate: the dashboard's buttons and the printed command work.
      const token = server.dev?.token ??
        await mintToken(options.auth?.secret ?? "", {
          sub: "demo",
          ttlSec: 24 * 3600,
          commands: COMMAND_ACTIONS,
        }).catch(() => "<a token from: deno task token --sub me --commands irrigate>");
      io.stdout(
        [
          "",
          `sensorstream demo: serve + ${
            server.embeddedBroker ? "embedded MQTT broker" : "your MQTT broker"
          } + simulated sensors V1-V5`,
          "",
          `  Dashboard:  ${dashboardUrl(server.httpUrl, token)}`,
          `  WebSocket:  ${server.wsUrl}?token=${token}`,
          `  MQTT:       ${redactUrl(server.mqttUrl)}  (publish to sensors/<id>/data)`,
          `  Metrics:    ${server.httpUrl}/metrics`,
          `  Outage:     ${outageText(outage)}`,
          "",
          "  Watch it live in a second terminal:",
          `    ${tailCommandLine(server.wsUrl, token)}`,
          "",
          "  Irrigate V1 for 30 s (the simulator opens its valve; watch V1's moisture rise):",
          `    ${irrigateCommandLine(server.wsUrl, token)}`,
          "",
          server.dev
            ? "  (development secret, generated for this run; Ctrl-C stops)"
            : "  Ctrl-C stops.",
          "",
        ].join("\n") + "\n",
      );
      const stopSim = new AbortController();
      const simulation = runSimulator({
        mqttUrl: server.mqttUrl,
        username: options.mqtt?.username,
        password: options.mqtt?.password,
        sensors: DEFAULT_SENSORS,
        intervalMs: flags.simInterval,
        outages: [outage],
        // The devices listen where serve publishes, whatever the command topics are.
        commandTopic: options.commands?.topic,
        commandAckTopic: options.commands?.ackTopic,
        signal: AbortSignal.any([io.signal, stopSim.signal]),
      }, { logger }).catch((error) => {
        logger.error("simulator stopped", { error });
      });
      // Nothing balances in front of a demo: Ctrl-C stops it at once.
      await serveUntilSignal(server, io, { drain: false });
      stopSim.abort();
      await simulation;
      ctx.exitCode = 0;
    }) as unknown as Command;
}
